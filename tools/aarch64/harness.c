/*
 * Runs every portable kernel on the inputs given in files and writes the
 * results; tools/aarch64/check.py compiles it for aarch64, runs it under
 * qemu-aarch64 and compares with the library on this machine.  Given
 * targets too, it runs the loss kernels (the logits x, or x as
 * probabilities, with those targets) in blocks of 4096 as the library's
 * pass does, and writes the losses, the gradients and which gradients the
 * library recomputes in scalar double-double (not the kernels' results).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
/* usage: harness N in32.bin g32.bin in64.bin g64.bin out_prefix [y32.bin y64.bin] */
static void *readf(const char *p, size_t bytes){ FILE*f=fopen(p,"rb"); void*b=malloc(bytes); if(fread(b,1,bytes,f)!=bytes){fprintf(stderr,"short %s\n",p);exit(1);} fclose(f); return b; }
static void writef(const char*p, int i, const void*b, size_t bytes){ char name[256]; snprintf(name,sizeof name,"%s_%d.bin",p,i); FILE*f=fopen(name,"wb"); fwrite(b,1,bytes,f); fclose(f); }
/* the loss cases check.py knows by number: kind, smoothing, alpha, gamma */
static const sig_loss_params LOSSES[] = {
  {SIG_LOSS_BCE_LOGITS, 0, 0.0, -1.0, 0.0}, {SIG_LOSS_BCE_LOGITS, 0, 0.1, -1.0, 0.0},
  {SIG_LOSS_FOCAL, 0, 0.0, 0.25, 2.0}, {SIG_LOSS_FOCAL, 0, 0.0, -1.0, 0.5}, {SIG_LOSS_FOCAL, 0, 0.0, 0.4, 0.3},
  {SIG_LOSS_BCE_PROBS, 0, 0.0, -1.0, 0.0}};
static void losses(const sig_kernel_table *t, long n, int f32, const void *x, const void *y, const char *out, int base){
  size_t sz=f32?4:8; char *l=malloc(n*sz), *g=malloc(n*sz); unsigned char *fx=calloc(n,1); ptrdiff_t fix[4096];
  for(int c=0;c<(int)(sizeof LOSSES/sizeof LOSSES[0]);c++){
    sig_loss_params P=LOSSES[c]; P.light=f32; memset(fx,0,n);
    for(long i=0;i<n;i+=4096){
      long m=n-i<4096?n-i:4096; ptrdiff_t nfix=0; int bad=0; double lo;
      sig_loss_io io={(const char*)x+i*sz,(const char*)y+i*sz,NULL,NULL,NULL,0,0,0,l+i*sz,g+i*sz,1.0};
      t->loss(&P,m,f32,&io,fix,&nfix,&bad,&lo);
      for(ptrdiff_t k=0;k<nfix;k++) fx[i+fix[k]]=1;
    }
    writef(out,base+10*c,l,n*sz); writef(out,base+10*c+1,g,n*sz); writef(out,base+10*c+2,fx,n);
  }
  free(l); free(g); free(fx);
}
int main(int argc, char**argv){
  long n=atol(argv[1]);
  float *x32=readf(argv[2],n*4), *g32=readf(argv[3],n*4); double *x64=readf(argv[4],n*8), *g64=readf(argv[5],n*8);
  float *y32=malloc(n*4); double *y64=malloc(n*8);
  const sig_kernel_table *t=&sig_kernels_portable;
  for(int i=0;i<SIG_N_UNARY;i++){ t->u32[i](x32,y32,n,0); writef(argv[6],i,y32,n*4); t->u64[i](x64,y64,n,0); writef(argv[6],100+i,y64,n*8); }
  for(int i=0;i<SIG_N_BINARY;i++){ t->b32[i](x32,g32,y32,n,0); writef(argv[6],200+i,y32,n*4); t->b64[i](x64,g64,y64,n,0); writef(argv[6],300+i,y64,n*8); }
  if(argc>8){
    float *t32=readf(argv[7],n*4); double *t64=readf(argv[8],n*8);
    losses(t,n,1,x32,t32,argv[6],1000); losses(t,n,0,x64,t64,argv[6],2000);
  }
  return 0;
}

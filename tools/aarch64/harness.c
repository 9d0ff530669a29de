/*
 * Runs every portable kernel on the inputs given in files and writes the
 * results; tools/aarch64/check.py compiles it for aarch64, runs it under
 * qemu-aarch64 and compares with the library on this machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"
/* usage: harness N in32.bin g32.bin in64.bin g64.bin out_prefix */
static void *readf(const char *p, size_t bytes){ FILE*f=fopen(p,"rb"); void*b=malloc(bytes); if(fread(b,1,bytes,f)!=bytes){fprintf(stderr,"short %s\n",p);exit(1);} fclose(f); return b; }
static void writef(const char*p, int i, const void*b, size_t bytes){ char name[256]; snprintf(name,sizeof name,"%s_%d.bin",p,i); FILE*f=fopen(name,"wb"); fwrite(b,1,bytes,f); fclose(f); }
int main(int argc, char**argv){
  long n=atol(argv[1]);
  float *x32=readf(argv[2],n*4), *g32=readf(argv[3],n*4); double *x64=readf(argv[4],n*8), *g64=readf(argv[5],n*8);
  float *y32=malloc(n*4); double *y64=malloc(n*8);
  const sig_kernel_table *t=&sig_kernels_portable;
  for(int i=0;i<SIG_N_UNARY;i++){ t->u32[i](x32,y32,n,0); writef(argv[6],i,y32,n*4); t->u64[i](x64,y64,n,0); writef(argv[6],100+i,y64,n*8); }
  for(int i=0;i<SIG_N_BINARY;i++){ t->b32[i](x32,g32,y32,n,0); writef(argv[6],200+i,y32,n*4); t->b64[i](x64,g64,y64,n,0); writef(argv[6],300+i,y64,n*8); }
  return 0;
}

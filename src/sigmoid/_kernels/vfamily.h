/* The rest of the family, built on vexp.h and vlogistic.h. */
#ifndef SIGMOID_VFAMILY_H
#define SIGMOID_VFAMILY_H

#include "vlogistic.h"

#endif

// FFTW 3, single precision (fftwf_*), as Debian's libfftw3-dev installs it.
#include <fftw3.h>

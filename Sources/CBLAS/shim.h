// OpenBLAS's CBLAS interface (Debian's libopenblas-dev, pthread variant), plus the
// openblas_* calls that report and set the kernel ("core") and the thread count in use.
#include <cblas.h>

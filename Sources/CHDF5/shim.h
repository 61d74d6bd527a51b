// HDF5 1.10 (serial), as Debian's libhdf5-dev installs it: the headers under
// /usr/include/hdf5/serial and libhdf5.so under /usr/lib/<arch>/hdf5/serial (pkg-config hdf5).
//
// HDF5's predefined type and property-list ids and file flags are macros over globals that H5open() fills in
// (`#define H5T_NATIVE_FLOAT (H5OPEN H5T_NATIVE_FLOAT_g)`): Swift cannot import them, so each
// one the .rtdc writer needs is a function here.
#include <hdf5.h>

static inline hid_t flowd_h5p_default(void) { return H5P_DEFAULT; }
static inline unsigned flowd_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline hid_t flowd_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t flowd_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t flowd_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t flowd_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t flowd_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t flowd_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t flowd_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t flowd_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t flowd_h5t_c_s1(void) { return H5T_C_S1; }
static inline hsize_t flowd_h5s_unlimited(void) { return H5S_UNLIMITED; }

/// Turns off HDF5's automatic error printing on stderr, for the calling thread (Debian builds
/// libhdf5 thread-safe, with an error stack per thread): the writer reports each failure
/// itself, naming the file and the operation.
static inline void flowd_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

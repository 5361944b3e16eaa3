/* `MPI_IN_PLACE` as a value Rust can pass: the standard leaves its representation to each
 * implementation (`(void *) 1` in Open MPI, `(void *) -1` in MPICH), it is a macro that
 * bindgen cannot translate, and rsmpi does not export it. Compiled by build.rs against the
 * same mpi.h that rsmpi's bindings come from. */
#include <mpi.h>

void *engram_mpi_in_place(void) { return MPI_IN_PLACE; }

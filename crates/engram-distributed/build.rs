//! With the `mpi` feature: compiles src/in_place.c, which hands Rust the `MPI_IN_PLACE` of
//! the MPI library found here (rsmpi's bindings leave that macro out), looking for the
//! library as rsmpi itself does so that both use the same `mpi.h`.

fn main() {
    #[cfg(feature = "mpi")]
    compile_in_place_shim();
}

#[cfg(feature = "mpi")]
fn compile_in_place_shim() {
    println!("cargo:rerun-if-changed=src/in_place.c");
    let library = build_probe_mpi::probe().unwrap_or_else(|errors| {
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!(
            "engram-distributed: no MPI library found ({}); install one (tools/mpi/install.sh)",
            reasons.join("; ")
        )
    });
    let mut build = cc::Build::new();
    build.file("src/in_place.c");
    match library.mpicc {
        Some(mpicc) => {
            build.compiler(mpicc);
        }
        None => {
            for dir in &library.include_paths {
                build.include(dir);
            }
        }
    }
    build.compile("engram_mpi_in_place");
}

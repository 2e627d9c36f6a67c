//! The `parbench` binary: parsing and dispatch live in [`parbench::cli`].

fn main() {
    std::process::exit(parbench::cli::main());
}

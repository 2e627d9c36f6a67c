fn main() {
    // Until the CLI lands: `parbench worker` is the process pool's worker mode.
    if std::env::args().nth(1).as_deref() == Some("worker") {
        std::process::exit(parbench::executor::process::worker_main());
    }
}

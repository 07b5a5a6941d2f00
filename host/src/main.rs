use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = tollgate::cli::Cli::parse();
    match tollgate::app::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("tollgate: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

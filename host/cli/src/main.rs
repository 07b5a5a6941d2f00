use clap::Parser;

// Findings, messages and report entries are allocated and freed per resource on
// several threads; mimalloc does that in fewer instructions than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The pipe size asked for when stdout is a pipe (see `main`).
#[cfg(target_os = "linux")]
const PIPE_SIZE: libc::c_int = 1 << 20;

fn main() -> std::process::ExitCode {
    // Transparent huge pages: mimalloc asks for them, and every 2 MiB page is zeroed when
    // first touched; a large scan allocates and releases far more than it keeps, and on
    // the VMs we measured those faults cost 9-17% of the scan's CPU time.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and affects only this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // A report written into a pipe (`| jq`, a CI log collector) moves in pipe-buffer
    // steps, 64 KiB by default: hundreds of megabytes of JSON then cost thousands of
    // wakeups of both processes. 1 MiB is the largest size Linux grants without
    // privileges by default; a refusal changes nothing, and a larger pipe is left alone.
    #[cfg(target_os = "linux")]
    // SAFETY: fstat and fcntl on descriptor 1 with plain integer arguments.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut st) == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO
            && libc::fcntl(1, libc::F_GETPIPE_SZ) < PIPE_SIZE
        {
            libc::fcntl(1, libc::F_SETPIPE_SZ, PIPE_SIZE);
        }
    }
    let cli = tollgate_cli::cli::Cli::parse();
    // Rust ignores SIGPIPE, which turns `tollgate checks | head` into an error (or a
    // panic in println!); a command-line tool should just stop, as cat and grep do. A
    // server must not: a client that hangs up mid-answer would kill it.
    if !matches!(cli.command, tollgate_cli::cli::Command::Serve(_)) {
        #[cfg(unix)]
        // SAFETY: no other thread runs yet; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match tollgate_cli::app::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("tollgate: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

//! One rule's process from start to end, on a job thread (`jobs.rs`).
//!
//! On Linux the process is started by `spawn.rs` (no fork) and both of its
//! output pipes are read by the job thread itself with `poll`. Elsewhere
//! std's `Command` starts it and stderr is read on a second thread.

use cloesce_engine::job::{ExitStatus, Job};

/// What a finished process left: how it ended, its stdout, its stderr.
pub type Outcome = (ExitStatus, Vec<u8>, Vec<u8>);

/// Runs jobs' processes, one at a time, keeping what can be reused.
#[derive(Default)]
pub struct Runner {
    #[cfg(target_os = "linux")]
    spawner: super::spawn::Spawner,
}

impl Runner {
    /// Runs a job's process to its end. `None` when the run was interrupted:
    /// the job is then never reported, so the driver keeps waiting while the
    /// interrupt handler stops everything and exits (see `interrupt.rs`).
    #[cfg(target_os = "linux")]
    pub fn run(&mut self, root: &str, program: &str, job: &Job) -> Option<Outcome> {
        use super::spawn::{wait, Ended};
        let args = job.argv.get(1..).unwrap_or_default();
        let started = super::interrupt::start_registered(
            || self.spawner.spawn(program, args, &job.env, root),
            |spawned| spawned.pid,
        )?;
        let spawned = match started {
            Ok(spawned) => spawned,
            Err(e) => {
                return Some((
                    ExitStatus::SpawnFailed(e.to_string()),
                    Vec::new(),
                    Vec::new(),
                ))
            }
        };
        let (stdout, stderr) = read_both(spawned.stdout, spawned.stderr);
        let ended = wait(spawned.pid);
        super::interrupt::finished(spawned.pid as u32);
        if super::interrupt::interrupted() {
            // Whatever it exited with, an interrupted rule records nothing.
            return None;
        }
        let status = match ended {
            Ok(Ended::Code(code)) => ExitStatus::Code(code),
            Ok(Ended::Signal(signal)) => ExitStatus::Signal(signal),
            Err(e) => ExitStatus::SpawnFailed(e.to_string()),
        };
        Some((status, stdout, stderr))
    }

    /// Runs a job's process to its end (see the Linux version).
    #[cfg(not(target_os = "linux"))]
    pub fn run(&mut self, root: &str, program: &str, job: &Job) -> Option<Outcome> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut command = Command::new(program);
        command
            .args(job.argv.iter().skip(1))
            .current_dir(root)
            .env_clear()
            .envs(&job.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        // `None`: interrupted, nothing new starts.
        let spawned = super::interrupt::spawn(&mut command)?;
        #[cfg(not(unix))]
        let spawned = command.spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                return Some((
                    ExitStatus::SpawnFailed(e.to_string()),
                    Vec::new(),
                    Vec::new(),
                ))
            }
        };
        // Read stderr on its own thread so neither pipe can fill and block.
        let mut stderr_pipe = child.stderr.take();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(pipe) = stderr_pipe.as_mut() {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        });
        let mut stdout = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            let _ = pipe.read_to_end(&mut stdout);
        }
        let stderr = stderr_reader.join().unwrap_or_default();
        let waited = child.wait();
        #[cfg(unix)]
        {
            super::interrupt::finished(child.id());
            if super::interrupt::interrupted() {
                return None;
            }
        }
        let status = match waited {
            Ok(status) => match status.code() {
                Some(code) => ExitStatus::Code(code),
                None => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::process::ExitStatusExt;
                        ExitStatus::Signal(status.signal().unwrap_or(0))
                    }
                    #[cfg(not(unix))]
                    ExitStatus::Code(1)
                }
            },
            Err(e) => ExitStatus::SpawnFailed(e.to_string()),
        };
        Some((status, stdout, stderr))
    }
}

/// Reads two pipes to their ends at once, so that neither can fill up and
/// block the child while the other is read.
#[cfg(target_os = "linux")]
fn read_both(stdout: std::os::fd::OwnedFd, stderr: std::os::fd::OwnedFd) -> (Vec<u8>, Vec<u8>) {
    use std::os::fd::AsRawFd;
    let mut polled = [
        libc::pollfd {
            fd: stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stderr.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let mut out = [Vec::new(), Vec::new()];
    let mut chunk = [0u8; 16 * 1024];
    while polled.iter().any(|p| p.fd >= 0) {
        // SAFETY: `polled` is a valid array of two pollfds.
        if unsafe { libc::poll(polled.as_mut_ptr(), 2, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        for (p, buf) in polled.iter_mut().zip(&mut out) {
            if p.fd < 0 || p.revents == 0 {
                continue;
            }
            // SAFETY: reading into a buffer of the given length.
            let n = unsafe { libc::read(p.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                buf.extend_from_slice(&chunk[..n as usize]);
            } else if n == 0
                || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                // End of file (or an error): a negative fd is skipped by poll.
                p.fd = -1;
            }
        }
    }
    let [stdout_bytes, stderr_bytes] = out;
    (stdout_bytes, stderr_bytes)
}

//! Running rules' processes: a pool of job threads.
//!
//! Each job thread takes a job, starts its process, collects its stdout and
//! stderr, waits for it and sends the [`Completion`] to the platform's
//! channel. Threads are kept and reused: a cold build used to start two
//! threads per rule (one per job, one more for stderr). The pool grows when a
//! job arrives and no thread is idle, so it holds as many threads as jobs
//! ever ran at once (`--jobs`).
//!
//! A job thread never exits, so it outlives every child it started: on Linux
//! that is what `PR_SET_PDEATHSIG` needs (it fires when the starting
//! *thread* ends; see `spawn.rs`).

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use cloesce_engine::job::{Completion, ExitStatus, Job};

use crate::platform::Finished;

/// One job to run: `program` is `job.argv[0]` resolved.
pub struct Task {
    pub root: String,
    pub program: String,
    pub job: Job,
    pub report: Sender<Finished>,
}

/// The job threads and their queue.
#[derive(Default)]
pub struct Pool {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    /// Threads waiting for a task and not yet promised one.
    idle: usize,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pool {
    /// Runs `task` on an idle job thread, or on a new one.
    pub fn submit(&self, task: Task) {
        let mut queue = self.shared.queue();
        queue.tasks.push_back(task);
        if queue.idle > 0 {
            queue.idle -= 1;
            drop(queue);
            self.shared.wake.notify_one();
            return;
        }
        drop(queue);
        let shared = Arc::clone(&self.shared);
        let started = std::thread::Builder::new()
            .name("cloesce-job".into())
            .spawn(move || job_thread(&shared));
        if let Err(e) = started {
            // No thread for it: fail the job rather than leave it queued.
            let mut queue = self.shared.queue();
            if let Some(task) = queue.tasks.pop_back() {
                drop(queue);
                let _ = task.report.send(Finished::Job(Completion {
                    id: task.job.id,
                    status: ExitStatus::SpawnFailed(format!("no thread to run it: {e}")),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                }));
            }
        }
    }
}

fn job_thread(shared: &Shared) {
    let mut runner = super::child::Runner::default();
    loop {
        let task = {
            let mut queue = shared.queue();
            loop {
                if let Some(task) = queue.tasks.pop_front() {
                    break task;
                }
                queue = shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        };
        // `None`: the run was interrupted; the job is never reported.
        if let Some((status, stdout, stderr)) = runner.run(&task.root, &task.program, &task.job) {
            let _ = task.report.send(Finished::Job(Completion {
                id: task.job.id,
                status,
                stdout,
                stderr,
            }));
        }
        shared.queue().idle += 1;
    }
}

//! The scheduler: which rule may start now, as a sans-IO state machine.
//!
//! It knows only the dependency edges between tasks; it never runs anything,
//! reads no clock and does no IO. The caller drives it:
//!
//! 1. [`Scheduler::poll_ready`] until it returns `None`, starting each task
//!    it hands out (in any way and order it likes);
//! 2. when a task ends, [`Scheduler::handle_completed`] with its outcome;
//! 3. repeat until [`Scheduler::is_finished`].
//!
//! Guarantees (checked by the simulator in the tests): a task is handed out
//! only after every task it depends on completed successfully; each task is
//! handed out at most once; the run always finishes. With fail-fast (the
//! default), after the first failure no task is handed out any more, so only
//! the tasks already started finish. With keep-going, every task that does
//! not depend (transitively) on a failed task still runs. Tasks that never
//! start are reported by [`Scheduler::not_started`].
//!
//! Ready tasks come out in order of their index, so a caller that numbers
//! tasks in topological declaration order gets a deterministic schedule.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What happened to a task the caller ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    /// Not part of this run.
    Excluded,
    /// Waiting for this many dependencies.
    Waiting(u32),
    Ready,
    Running,
    Succeeded,
    Failed,
    /// A dependency failed, so this task will never start.
    Blocked,
}

/// Hands out tasks whose dependencies are done. Tasks are `usize` indices.
#[derive(Debug, Clone)]
pub struct Scheduler {
    dependents: Vec<Vec<usize>>,
    states: Vec<TaskState>,
    ready: BinaryHeap<Reverse<usize>>,
    running: usize,
    keep_going: bool,
    stopped: bool,
}

impl Scheduler {
    /// `deps[i]` lists the tasks task `i` depends on. `selected[i]` says
    /// whether task `i` is part of this run; the caller must include every
    /// dependency of a selected task (a closure), or the dependent never runs.
    pub fn new(deps: &[Vec<usize>], selected: &[bool], keep_going: bool) -> Scheduler {
        let n = deps.len();
        let mut dependents = vec![Vec::new(); n];
        let mut states = vec![TaskState::Excluded; n];
        let mut ready = BinaryHeap::new();
        for (task, task_deps) in deps.iter().enumerate() {
            if !selected.get(task).copied().unwrap_or(false) {
                continue;
            }
            let mut waiting = 0;
            for &dep in task_deps {
                if dep < n && dep != task {
                    dependents[dep].push(task);
                    waiting += 1;
                }
            }
            states[task] = if waiting == 0 {
                ready.push(Reverse(task));
                TaskState::Ready
            } else {
                TaskState::Waiting(waiting)
            };
        }
        // A dependency that is not selected never completes: its dependents
        // are blocked from the start rather than waiting forever.
        for task in 0..n {
            if states[task] == TaskState::Excluded {
                let dependents_of_excluded = std::mem::take(&mut dependents[task]);
                for dependent in dependents_of_excluded {
                    block(&mut states, &dependents, dependent);
                }
            }
        }
        Scheduler {
            dependents,
            states,
            ready,
            running: 0,
            keep_going,
            stopped: false,
        }
    }

    /// The next task that may start, marking it running.
    pub fn poll_ready(&mut self) -> Option<usize> {
        if self.stopped {
            return None;
        }
        while let Some(Reverse(task)) = self.ready.pop() {
            if self.states[task] == TaskState::Ready {
                self.states[task] = TaskState::Running;
                self.running += 1;
                return Some(task);
            }
        }
        None
    }

    /// Records the end of a running task. Completing a task that is not
    /// running is ignored (the state machine cannot be corrupted by a
    /// confused caller).
    pub fn handle_completed(&mut self, task: usize, outcome: Outcome) {
        if self.states.get(task) != Some(&TaskState::Running) {
            return;
        }
        self.running -= 1;
        match outcome {
            Outcome::Succeeded => {
                self.states[task] = TaskState::Succeeded;
                for i in 0..self.dependents[task].len() {
                    let dependent = self.dependents[task][i];
                    if let TaskState::Waiting(n) = self.states[dependent] {
                        if n <= 1 {
                            self.states[dependent] = TaskState::Ready;
                            self.ready.push(Reverse(dependent));
                        } else {
                            self.states[dependent] = TaskState::Waiting(n - 1);
                        }
                    }
                }
            }
            Outcome::Failed => {
                self.states[task] = TaskState::Failed;
                for i in 0..self.dependents[task].len() {
                    let dependent = self.dependents[task][i];
                    block(&mut self.states, &self.dependents, dependent);
                }
                if !self.keep_going {
                    self.stopped = true;
                }
            }
        }
    }

    /// How many handed-out tasks have not completed yet.
    pub fn running(&self) -> usize {
        self.running
    }

    /// True when nothing is running and nothing more will be handed out.
    pub fn is_finished(&self) -> bool {
        self.running == 0 && (self.stopped || self.ready.is_empty())
    }

    /// True once a task failed.
    pub fn any_failed(&self) -> bool {
        self.states.contains(&TaskState::Failed)
    }

    /// Selected tasks that never started (blocked by a failure or stopped by
    /// fail-fast), in index order.
    pub fn not_started(&self) -> Vec<usize> {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                matches!(
                    s,
                    TaskState::Waiting(_) | TaskState::Ready | TaskState::Blocked
                )
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Marks `task` and everything downstream of it as blocked.
fn block(states: &mut [TaskState], dependents: &[Vec<usize>], task: usize) {
    let mut stack = vec![task];
    while let Some(t) = stack.pop() {
        if matches!(states[t], TaskState::Waiting(_) | TaskState::Ready) {
            states[t] = TaskState::Blocked;
            stack.extend(dependents[t].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG (xorshift) so the simulator needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A random DAG: edges only from lower to higher indices.
    fn random_dag(rng: &mut Rng, n: usize) -> Vec<Vec<usize>> {
        (0..n)
            .map(|i| {
                let mut deps: Vec<usize> = (0..i).filter(|_| rng.below(6) == 0).collect();
                deps.dedup();
                deps
            })
            .collect()
    }

    struct SimResult {
        started: Vec<usize>,
        succeeded: Vec<usize>,
        failed: Vec<usize>,
        not_started: Vec<usize>,
    }

    /// Drives the scheduler with up to `jobs` tasks in flight, completing a
    /// random running task each step; tasks in `failing` fail. Panics if the
    /// run does not end within a bound (a hang).
    fn simulate(
        deps: &[Vec<usize>],
        selected: &[bool],
        failing: &[usize],
        keep_going: bool,
        jobs: usize,
        rng: &mut Rng,
    ) -> SimResult {
        let mut s = Scheduler::new(deps, selected, keep_going);
        let mut in_flight: Vec<usize> = Vec::new();
        let mut result = SimResult {
            started: vec![],
            succeeded: vec![],
            failed: vec![],
            not_started: vec![],
        };
        let mut steps = 0;
        while !s.is_finished() {
            steps += 1;
            assert!(steps < 10 * deps.len() + 10, "the run did not terminate");
            while in_flight.len() < jobs {
                let Some(task) = s.poll_ready() else { break };
                for &d in &deps[task] {
                    assert!(
                        result.succeeded.contains(&d),
                        "task {task} started before its dependency {d} succeeded"
                    );
                }
                assert!(!result.started.contains(&task), "task {task} started twice");
                result.started.push(task);
                in_flight.push(task);
            }
            if in_flight.is_empty() {
                continue;
            }
            let task = in_flight.swap_remove(rng.below(in_flight.len()));
            if failing.contains(&task) {
                result.failed.push(task);
                s.handle_completed(task, Outcome::Failed);
            } else {
                result.succeeded.push(task);
                s.handle_completed(task, Outcome::Succeeded);
            }
        }
        assert!(in_flight.is_empty());
        result.not_started = s.not_started();
        result
    }

    fn downstream(deps: &[Vec<usize>], roots: &[usize]) -> Vec<bool> {
        let mut out = vec![false; deps.len()];
        for &r in roots {
            out[r] = true;
        }
        for i in 0..deps.len() {
            if deps[i].iter().any(|&d| out[d]) {
                out[i] = true;
            }
        }
        out
    }

    #[test]
    fn every_task_runs_once_after_its_deps_in_random_orders() {
        for seed in 1..300u64 {
            let mut rng = Rng(seed * 7919);
            let n = 1 + rng.below(40);
            let deps = random_dag(&mut rng, n);
            let jobs = 1 + rng.below(4);
            let r = simulate(&deps, &vec![true; n], &[], false, jobs, &mut rng);
            assert_eq!(r.started.len(), n, "seed {seed}");
            assert!(r.not_started.is_empty());
        }
    }

    #[test]
    fn keep_going_runs_everything_not_downstream_of_a_failure() {
        for seed in 1..300u64 {
            let mut rng = Rng(seed * 104_729);
            let n = 2 + rng.below(30);
            let deps = random_dag(&mut rng, n);
            let failing = [rng.below(n)];
            let r = simulate(&deps, &vec![true; n], &failing, true, 3, &mut rng);
            let poisoned = downstream(&deps, &failing);
            for (task, &is_poisoned) in poisoned.iter().enumerate() {
                let expected_to_start = !is_poisoned || failing.contains(&task);
                assert_eq!(
                    r.started.contains(&task),
                    expected_to_start,
                    "seed {seed} task {task}"
                );
            }
            assert_eq!(r.started.len() + r.not_started.len(), n);
        }
    }

    #[test]
    fn fail_fast_starts_nothing_after_the_first_failure() {
        for seed in 1..300u64 {
            let mut rng = Rng(seed * 15_485_863);
            let n = 2 + rng.below(30);
            let deps = random_dag(&mut rng, n);
            let failing = [rng.below(n)];
            let mut s = Scheduler::new(&deps, &vec![true; n], false);
            let mut in_flight = Vec::new();
            let mut failed_seen = false;
            let mut steps = 0;
            while !s.is_finished() {
                steps += 1;
                assert!(steps < 10 * n + 10);
                while in_flight.len() < 2 {
                    match s.poll_ready() {
                        Some(t) => {
                            assert!(
                                !failed_seen,
                                "seed {seed}: task {t} started after a failure"
                            );
                            in_flight.push(t);
                        }
                        None => break,
                    }
                }
                if in_flight.is_empty() {
                    continue;
                }
                let t = in_flight.swap_remove(rng.below(in_flight.len()));
                if failing.contains(&t) {
                    failed_seen = true;
                    s.handle_completed(t, Outcome::Failed);
                } else {
                    s.handle_completed(t, Outcome::Succeeded);
                }
            }
            assert_eq!(s.any_failed(), failed_seen);
        }
    }

    #[test]
    fn unselected_dependencies_block_their_dependents() {
        // 0 <- 1 <- 2, only 1 and 2 selected: nothing can start.
        let deps = vec![vec![], vec![0], vec![1]];
        let mut s = Scheduler::new(&deps, &[false, true, true], false);
        assert_eq!(s.poll_ready(), None);
        assert!(s.is_finished());
        assert_eq!(s.not_started(), vec![1, 2]);
    }

    #[test]
    fn completing_an_unknown_or_idle_task_is_ignored() {
        let deps = vec![vec![], vec![0]];
        let mut s = Scheduler::new(&deps, &[true, true], false);
        s.handle_completed(1, Outcome::Succeeded);
        s.handle_completed(99, Outcome::Failed);
        assert_eq!(s.poll_ready(), Some(0));
        assert_eq!(s.poll_ready(), None);
        s.handle_completed(0, Outcome::Succeeded);
        assert_eq!(s.poll_ready(), Some(1));
    }
}

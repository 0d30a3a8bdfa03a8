'use strict';
// The spawner: one small, long-lived `perl` process that starts the rules'
// processes for this run, so Node does not `fork()` itself once per rule.
//
// Why: on Linux, Node 20's libuv starts a child with `fork()` + `exec()`.
// Forking a ~95 MB Node process copies its page tables and costs
// copy-on-write faults, and `uv_spawn` blocks the only JavaScript thread
// until the child has exec'd; on a 1,000-rule build that is most of the npm
// build's own CPU (docs/performance.md, "npm: start-up and the cold build").
// Forking a ~7 MB perl is cheap, and it happens off Node's thread. (macOS's
// libuv already uses `posix_spawn`; Windows has no fork: both keep
// `child_process.spawn`.)
//
// Perl, not `/bin/sh`: a rule's exit code must be told apart from death by
// a signal (sh's `$?` folds both into 128+n), its argv must reach `execvp`
// untouched, and its output must stay a pipe read to EOF (Node's 'close'
// semantics). Perl (with `POSIX`, in Debian's essential `perl-base`) does
// all three with core features only; where it is missing, or fails to
// start, lib/spawn.js starts rules as before.
//
// What a rule's process gets is what `child_process.spawn(file, args, { cwd,
// env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })` gives it: its
// own session and process group (`setsid`), stdin `/dev/null`, stdout and
// stderr pipes, exactly `env` as its environment, `cwd`, argv[0] = `file`,
// `execvp` (PATH from `env`), no shell, and no other open descriptor (perl
// marks every descriptor above 2 close-on-exec). Its stdout and stderr are
// read to EOF by perl and sent back with its raw wait status.
//
// Protocol. Node → perl, one record per command: `<bytes>\n` then the
// record's fields, each ended by NUL (the engine refuses NUL in argv and
// env, so NUL never occurs inside a field):
//   S id cwd file argc arg… envc name value…   start a job
//   K signal id…                                signal these jobs' groups
// Perl → Node, one line per event, `X` followed by the output bytes:
//   R                                   ready (the script compiled)
//   P id pid                            the job's process has exec'd
//   E id errno                          it could not start (fork, chdir, exec)
//   X id status outlen errlen\n<out><err>   it ended; `status` as waitpid
// Perl exits once its stdin is closed and no job runs: at the end of a run
// Node closes it and waits (Children.close). If Node dies first, jobs still
// running are left to finish, as Node's detached children are.

const fs = require('node:fs');
const path = require('node:path');

const SCRIPT = String.raw`
use strict;
no warnings;
use POSIX ();
binmode STDIN; binmode STDOUT; $| = 1;
my $in = '';
my $eof = 0;
my ($wait, $polled) = (0, 0);
my (%jobs, %fds, %pids);
open my $nullfh, '<', '/dev/null' or die "/dev/null: $!";  # close-on-exec
my $null = fileno $nullfh;
sub say_ { syswrite STDOUT, $_[0] }
sub start {
  my ($id, $cwd, $file, $argv, $env) = @_;
  # The directory and environment are set here, in perl itself (which
  # needs neither), so the forked child touches as few pages as it can
  # before exec: each page it writes is a copy-on-write fault.
  unless (chdir $cwd) { say_("E $id " . ($! + 0) . "\n"); return }
  %ENV = @$env;
  my ($or, $ow, $er, $ew, $xr, $xw);
  unless (pipe($or, $ow) && pipe($er, $ew) && pipe($xr, $xw)) { say_("E $id " . ($! + 0) . "\n"); return }
  my $pid = fork;
  unless (defined $pid) { say_("E $id " . ($! + 0) . "\n"); return }
  if ($pid == 0) {
    POSIX::setsid();
    POSIX::dup2($null, 0); POSIX::dup2(fileno $ow, 1); POSIX::dup2(fileno $ew, 2);
    exec { $file } @$argv;
    syswrite $xw, pack('N', $! + 0);
    POSIX::_exit(127);
  }
  # Not waiting here for the exec: the exec pipe is read with the others
  # (EOF = it exec'd: P; an errno = it failed: E once the child is reaped),
  # so perl goes on serving the other jobs meanwhile.
  close $ow; close $ew; close $xw;
  $jobs{$id} = { pid => $pid, open => 3, out => '', err => '', exec => '' };
  $fds{fileno $or} = [$id, 'out', $or];
  $fds{fileno $er} = [$id, 'err', $er];
  $fds{fileno $xr} = [$id, 'exec', $xr];
  $pids{$pid} = $id;
}
sub command {
  my @f = split /\0/, $_[0], -1;
  pop @f;
  my $kind = shift @f;
  if ($kind eq 'S') {
    my ($id, $cwd, $file, $argc) = splice @f, 0, 4;
    my @argv = ($file, splice @f, 0, $argc);
    my $envc = shift @f;
    start($id, $cwd, $file, \@argv, [splice @f, 0, 2 * $envc]);
  } elsif ($kind eq 'K') {
    my $sig = shift @f;
    for my $id (@f) {
      my $job = $jobs{$id} or next;
      kill($sig, -$job->{pid}) or kill($sig, $job->{pid});
    }
  }
}
sub finish {
  for my $id (keys %jobs) {
    my $job = $jobs{$id};
    next if $job->{open} || !defined $job->{status};
    delete $jobs{$id};
    if (length $job->{exec} == 4) { say_("E $id " . unpack('N', $job->{exec}) . "\n"); next }
    say_("X $id $job->{status} " . length($job->{out}) . ' ' . length($job->{err}) . "\n" . $job->{out} . $job->{err});
  }
}
say_("R\n");
while (!$eof || %jobs) {
  my $rin = '';
  vec($rin, 0, 1) = 1 unless $eof;
  vec($rin, $_, 1) = 1 for keys %fds;
  # A job whose pipes closed is about to exit (a process closes its files
  # before it becomes a zombie), or closed them early and runs on: it is
  # polled for its exit, after 0.1 ms, then backing off to 50 ms.
  my $poll = grep { !$_->{open} && !defined $_->{status} } values %jobs;
  $wait = 0 if $poll > $polled;
  $polled = $poll;
  $wait = $poll ? ($wait ? ($wait * 2 > 0.05 ? 0.05 : $wait * 2) : 0.0001) : 0;
  my $n = select(my $rout = $rin, undef, undef, $poll ? $wait : undef);
  next if $n < 0;
  if (!$eof && vec($rout, 0, 1)) {
    my $r = sysread STDIN, $in, 65536, length $in;
    $eof = 1 unless $r;
    while ($in =~ /\A(\d+)\n/ && length($in) >= length($1) + 1 + $1) {
      my $len = $1;
      my $record = substr $in, length($len) + 1, $len;
      substr($in, 0, length($len) + 1 + $len) = '';
      command($record);
    }
  }
  for my $fd (keys %fds) {
    next unless vec($rout, $fd, 1);
    my ($id, $which, $fh) = @{$fds{$fd}};
    my $job = $jobs{$id};
    my $r = sysread $fh, $job->{$which}, 65536, length $job->{$which};
    next if !defined $r && $!{EINTR};
    next if $r;
    close $fh; delete $fds{$fd}; $job->{open}--;
    say_("P $id $job->{pid}\n") if $which eq 'exec' && !length $job->{exec};
  }
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $pids{$pid};
    $jobs{$id}{status} = $? if defined $id;
  }
  finish();
}
`;

/** Where `perl` is on `PATH` (this process's), or null. */
function findPerl(env = process.env) {
  for (const dir of (env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, 'perl');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

/**
 * Whether rules start through the spawner: `CLOESCE_SPAWNER=node` says
 * never, `=perl` always (where perl is found); by default on POSIX systems
 * whose libuv forks (all but macOS and Windows).
 */
function wanted(env = process.env, platform = process.platform) {
  const choice = env.CLOESCE_SPAWNER;
  if (choice === 'node') return false;
  if (platform === 'win32') return false;
  if (choice === 'perl') return true;
  return platform !== 'darwin';
}

/** One record of the protocol: fields NUL-ended, prefixed by its length. */
function record(fields) {
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/**
 * A job started by the spawner, as `signalTree` in spawn.js sees a child:
 * `pid` once it has exec'd (it leads its own process group) and `kill`.
 * Before the pid is known, a signal is sent through the spawner.
 */
class SpawnedJob {
  constructor(spawner, id, handlers) {
    this.spawner = spawner;
    this.id = id;
    this.pid = undefined;
    this.handlers = handlers;
  }

  kill(signal) {
    if (this.pid !== undefined) {
      process.kill(this.pid, signal);
      return;
    }
    const number = require('node:os').constants.signals[signal] ?? signal;
    this.spawner.send(['K', number, this.id]);
  }
}

/** The perl process of one run and the jobs it has not finished. */
class Spawner {
  /**
   * Starts perl (`perlPath`); `onBroken(jobs, ready)` is called once if it
   * fails to start or dies, with the jobs it never reported as ended and
   * whether it had said it was ready (before that, none of them started).
   */
  constructor(perlPath, onBroken) {
    this.jobs = new Map(); // id -> SpawnedJob
    this.onBroken = onBroken;
    this.ready = false;
    this.broken = false;
    this.input = Buffer.alloc(0);
    this.errText = '';
    const { spawn } = require('node:child_process');
    // A clean environment (no PERL5OPT, PERL5LIB) and its own session, so a
    // terminal's Ctrl-C reaches cloesce only.
    this.child = spawn(perlPath, ['-e', SCRIPT], {
      env: {},
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
    });
    this.child.on('error', (err) => this.break(`could not start ${perlPath}: ${err.message}`));
    // 'close', not 'exit': every event perl wrote has been read by then.
    this.child.on('close', (code, signal) => this.break(`the spawner (${perlPath}) exited (${signal || code}): ${this.errText.trim()}`));
    this.child.stdin.on('error', () => {}); // EPIPE after it died: 'exit' says so
    this.child.stdout.on('data', (chunk) => this.read(chunk));
    this.child.stderr.on('data', (chunk) => {
      if (this.errText.length < 4096) this.errText += chunk;
    });
    // Only running jobs keep Node's event loop alive, not the spawner.
    this.child.unref();
    this.child.stdin.unref?.();
    this.child.stderr.unref?.();
    this.child.stdout.unref?.();
  }

  /** Starts a job; `handlers` get `{pid}` / completions (see `read`). */
  start(id, cwd, file, args, env, handlers) {
    const job = new SpawnedJob(this, id, handlers);
    this.jobs.set(id, job);
    if (this.jobs.size === 1) this.hold(true);
    const envFields = [];
    for (const [name, value] of Object.entries(env)) envFields.push(name, value);
    // Absolute: perl changes into each job's directory itself.
    this.send(['S', id, path.resolve(cwd), file, args.length, ...args, envFields.length / 2, ...envFields]);
    return job;
  }

  // While a job runs, perl's output and exit keep Node's event loop alive
  // (the engine awaits a Promise, which alone does not).
  hold(on) {
    for (const handle of [this.child, this.child.stdout]) {
      if (on) handle.ref?.();
      else handle.unref?.();
    }
  }

  send(fields) {
    if (!this.broken) this.child.stdin.write(record(fields));
  }

  // Parses perl's events; an `X` waits for all of its output bytes.
  read(chunk) {
    this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
    for (;;) {
      const nl = this.input.indexOf(10);
      if (nl < 0) return;
      const fields = this.input.toString('latin1', 0, nl).split(' ');
      let end = nl + 1;
      if (fields[0] === 'X') {
        end += Number(fields[3]) + Number(fields[4]);
        if (this.input.length < end) return;
      }
      const body = this.input.subarray(nl + 1, end);
      this.input = this.input.subarray(end);
      this.event(fields, body);
    }
  }

  event([kind, id, a, b], body) {
    if (kind === 'R') {
      this.ready = true;
      return;
    }
    const job = this.jobs.get(Number(id));
    if (!job) return;
    if (kind === 'P') {
      job.pid = Number(a);
      job.handlers.started(job);
      return;
    }
    this.jobs.delete(job.id);
    if (this.jobs.size === 0) this.hold(false);
    if (kind === 'E') {
      job.handlers.failed(Number(a));
    } else {
      const status = Number(a);
      const outLen = Number(b);
      const stdout = new Uint8Array(body.subarray(0, outLen));
      const stderr = new Uint8Array(body.subarray(outLen));
      const signal = status & 0x7f;
      job.handlers.ended(signal ? null : status >> 8, signal || null, stdout, stderr);
    }
  }

  break(reason) {
    if (this.broken) return;
    this.broken = true;
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    this.hold(false);
    this.onBroken(jobs, this.ready, reason);
  }

  /**
   * Closes perl's stdin: it exits once its running jobs have ended, and
   * Node waits for that (so no process outlives a run that ends normally,
   * and perl's CPU is counted as this process's children's).
   */
  close() {
    this.child.stdin.end();
    if (!this.broken) this.child.ref();
  }
}

module.exports = { Spawner, SpawnedJob, findPerl, wanted, record, SCRIPT };

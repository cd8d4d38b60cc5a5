//! Live progress: indicatif bars on a terminal, plain lines otherwise (CI logs).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::events::{Event, Sink, Status};

pub struct Progress {
    mode: Mode,
    total: usize,
    done: usize,
    started: Instant,
    verbose: bool,
}

enum Mode {
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
        tasks: HashMap<usize, ProgressBar>,
        transfers: HashMap<usize, ProgressBar>,
    },
    Lines,
    Quiet,
}

impl Progress {
    pub fn new(tty: bool, quiet: bool, verbose: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if tty {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} tasks  {elapsed_precise}  {msg}",
                )
                .expect("valid template"),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            Mode::Bars {
                multi,
                overall,
                tasks: HashMap::new(),
                transfers: HashMap::new(),
            }
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            total: 0,
            done: 0,
            started: Instant::now(),
            verbose,
        }
    }

    fn line(&self, text: &str) {
        // Names from storage reach these lines: no escape sequence reaches the terminal.
        let text = &crate::storage::printable(text);
        match &self.mode {
            Mode::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
            Mode::Lines => out(format_args!("{text}")),
            Mode::Quiet => {}
        }
    }
}

/// One line on standard output. A reader that went away is no reason to stop a run (nor to panic,
/// as `println!` would): the run goes on, and the journal keeps every line.
fn out(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn elapsed(d: Duration) -> String {
    format!("{:>6.1}s", d.as_secs_f64())
}

impl Sink for Progress {
    fn event(&mut self, e: &Event) {
        let t = elapsed(self.started.elapsed());
        match e {
            Event::RunStarted {
                run_id,
                playbook,
                tasks,
                ..
            } => {
                self.total = *tasks;
                if let Mode::Bars { overall, .. } = &self.mode {
                    overall.set_length(*tasks as u64);
                }
                self.line(&format!("run {run_id}: {playbook}, {tasks} tasks"));
            }
            Event::TaskStarted {
                task,
                step,
                host,
                rollback,
                ..
            } => {
                let what = if *rollback { "rollback" } else { "start" };
                match &mut self.mode {
                    Mode::Bars { multi, tasks, .. } => {
                        let pb = multi.add(ProgressBar::new_spinner());
                        pb.set_style(
                            ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                                .expect("valid template"),
                        );
                        pb.set_message(format!("{host}: {step}"));
                        pb.enable_steady_tick(Duration::from_millis(120));
                        tasks.insert(*task, pb);
                    }
                    Mode::Lines => out(format_args!("{t} {what:<8} {step} on {host}")),
                    Mode::Quiet => {}
                }
            }
            Event::TaskFinished {
                task,
                step,
                host,
                status,
                message,
                output,
                at,
                started_at,
                ..
            } => {
                self.done += 1;
                let secs = (*at - *started_at).num_milliseconds() as f64 / 1000.0;
                let word = match status {
                    Status::Ok => "ok",
                    Status::Changed => "changed",
                    Status::Failed => "FAILED",
                    Status::Skipped => "skipped",
                    Status::Aborted => "ABORTED",
                };
                let mut text = format!("{t} {word:<8} {step} on {host} ({secs:.1}s)");
                if !message.is_empty() {
                    text.push_str(&format!(": {message}"));
                }
                if (self.verbose || *status == Status::Failed) && !output.trim().is_empty() {
                    for l in output.trim_end().lines().take(20) {
                        text.push_str(&format!("\n         | {l}"));
                    }
                }
                if let Mode::Bars { tasks, overall, .. } = &mut self.mode {
                    if let Some(pb) = tasks.remove(task) {
                        pb.finish_and_clear();
                    }
                    overall.set_position(self.done as u64);
                }
                self.line(&text);
            }
            Event::Transfer {
                task,
                host,
                bytes,
                total,
                done,
            } => match &mut self.mode {
                Mode::Bars {
                    multi, transfers, ..
                } => {
                    let pb = transfers.entry(*task).or_insert_with(|| {
                        let pb = multi.add(ProgressBar::new(total.unwrap_or(0)));
                        pb.set_style(
                            ProgressStyle::with_template(
                                "  {msg} {bar:20} {bytes}/{total_bytes} {bytes_per_sec}",
                            )
                            .expect("valid template"),
                        );
                        pb.set_message(host.clone());
                        pb
                    });
                    pb.set_position(*bytes);
                    if *done {
                        pb.finish_and_clear();
                        transfers.remove(task);
                    }
                }
                Mode::Lines if *done => out(format_args!("{t} transfer {host}: {bytes} bytes")),
                _ => {}
            },
            Event::Note { text, .. } | Event::Storage { text, .. } => self.line(text),
            Event::Gate { .. } | Event::Authenticated { .. } => {}
            Event::Lock {
                host,
                action,
                message: Some(m),
                ..
            } if action == "not released" => {
                // The next run on that host will be refused: the operator must know now.
                eprintln!("WARNING: the lock on {host} was not released: {m}");
            }
            Event::Lock { .. } => {}
            Event::Undone {
                step,
                host,
                ok,
                describe,
                message,
                ..
            } => {
                if *ok {
                    self.line(&format!("{t} undone   {step} on {host}: {describe}"));
                } else {
                    let text = format!("{t} UNDO FAILED {step} on {host}: {describe}: {message}");
                    self.line(&text);
                }
            }
            Event::Check {
                host,
                name,
                expected,
                found,
                passed,
                ..
            } => {
                let verdict = if *passed { "check ok" } else { "CHECK FAILED" };
                self.line(&format!(
                    "{t} {verdict} {name} on {host}: expected {expected}, found {found}"
                ));
            }
            Event::RollbackStarted { reason, .. } => self.line(&format!("{t} ROLLBACK: {reason}")),
            Event::Interrupted { second, .. } => {
                let text = if *second {
                    "interrupt again: what this run changed is being put back; that runs to its end (waiting for it is safer than killing it)"
                } else {
                    "interrupt: stopping. No new step starts, running ones are cut short, then what this run changed is put back"
                };
                // Interrupt notices go to stderr even when quiet: the operator asked for them. Bars
                // are held while it is written, so that a redraw cannot hide it.
                match &self.mode {
                    Mode::Bars { multi, .. } => multi.suspend(|| eprintln!("{text}")),
                    _ => eprintln!("{text}"),
                }
            }
            Event::RunFinished { .. } => {
                if let Mode::Bars { overall, .. } = &self.mode {
                    overall.finish_and_clear();
                }
            }
        }
    }
}

//! Where a bench run's CPU went, from `/proc`: the server (and its Argon2
//! threads), every Postgres process, every nats-server, the bench itself,
//! and the whole machine, as CPU time (user + system) per request. Less
//! noisy than a ratio of throughputs, and it says which process to profile.
//!
//! Linux only, and only for processes on this machine: where `/proc` does
//! not show them, the line says so.

use std::collections::HashMap;
use std::time::Duration;

/// The kernel's unit for CPU times in `/proc` (`USER_HZ`), 100 per second
/// on every Linux architecture Olympus runs on.
const TICK: Duration = Duration::from_millis(10);

/// Cumulative CPU times, in ticks, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    server: Option<u64>,
    argon2: u64,
    /// Per process: backends and nats-servers (of other tests, say) come
    /// and go, so only a process's own difference means anything.
    postgres: HashMap<u32, u64>,
    nats: HashMap<u32, u64>,
    bench: u64,
    machine_busy: u64,
}

impl Snapshot {
    /// Reads the times now; `server` is the pid of `olympus serve`, when
    /// known.
    pub fn take(server: Option<u32>) -> Self {
        // A pid given for a server elsewhere may name another process here.
        let server = server.filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.starts_with("olympus"))
        });
        let mut snapshot = Snapshot {
            // The process first and its threads after, so that the
            // process's share never reads smaller than its threads'.
            server: server.and_then(process_ticks),
            argon2: server.map_or(0, argon2_ticks),
            bench: process_ticks(std::process::id()).unwrap_or_default(),
            machine_busy: machine_busy_ticks().unwrap_or_default(),
            ..Snapshot::default()
        };
        for (pid, comm) in processes() {
            let group = match comm.as_str() {
                "postgres" => &mut snapshot.postgres,
                "nats-server" => &mut snapshot.nats,
                _ => continue,
            };
            if let Some(ticks) = process_ticks(pid) {
                group.insert(pid, ticks);
            }
        }
        snapshot
    }

    /// Reads the times again (threads before their process, see
    /// [`Snapshot::take`]) and gives what each group spent since. A
    /// Postgres or nats-server process that ended in between is not
    /// counted; one that started is, from its start.
    pub fn spent(&self, server: Option<u32>) -> Spent {
        let argon2 = server.map_or(0, argon2_ticks);
        let now = Snapshot {
            argon2,
            ..Snapshot::take(server)
        };
        let time = |ticks: u64| TICK * u32::try_from(ticks).unwrap_or(u32::MAX);
        let group = |before: &HashMap<u32, u64>, after: &HashMap<u32, u64>| {
            (!after.is_empty()).then(|| time(spent(before, after)))
        };
        Spent {
            server: match (self.server, now.server) {
                (Some(before), Some(after)) => Some(time(after.saturating_sub(before))),
                _ => None,
            },
            argon2: time(now.argon2.saturating_sub(self.argon2)),
            postgres: group(&self.postgres, &now.postgres),
            nats: group(&self.nats, &now.nats),
            bench: time(now.bench.saturating_sub(self.bench)),
            machine: time(now.machine_busy.saturating_sub(self.machine_busy)),
        }
    }

    /// [`Snapshot::spent`], formatted per request.
    pub fn report(&self, server: Option<u32>, requests: usize, elapsed: Duration) -> String {
        self.spent(server).report(requests, elapsed)
    }
}

/// CPU time (user + system) spent by each group of processes between two
/// moments; `None` where the group has no process on this machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub server: Option<Duration>,
    /// Of `server`, its hashing threads'.
    pub argon2: Duration,
    pub postgres: Option<Duration>,
    pub nats: Option<Duration>,
    pub bench: Duration,
    pub machine: Duration,
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, other: Spent) {
        let add = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
        };
        self.server = add(self.server, other.server);
        self.argon2 += other.argon2;
        self.postgres = add(self.postgres, other.postgres);
        self.nats = add(self.nats, other.nats);
        self.bench += other.bench;
        self.machine += other.machine;
    }
}

impl Spent {
    /// Per request, with what `elapsed` gave the machine's cores per
    /// request beside it.
    pub fn report(&self, requests: usize, elapsed: Duration) -> String {
        let per_request = |time: Duration| format_time(time.div_f64(requests.max(1) as f64));
        let group = |time: Option<Duration>, what: &str| match time {
            Some(time) => format!("{what} {}", per_request(time)),
            None => format!("{what}: not on this machine"),
        };
        let server_part = match self.server {
            Some(server) => format!(
                "server {} (Argon2 threads {})",
                per_request(server),
                per_request(self.argon2)
            ),
            None => "server: not measured (no `olympus` process here with --server-pid's pid)"
                .to_owned(),
        };
        let cores = cores();
        let capacity =
            (elapsed * u32::try_from(cores).unwrap_or(1)).div_f64(requests.max(1) as f64);
        format!(
            "CPU per request (user + system): {server_part}, {}, {}, this bench {}, the machine {} of the {} its {cores} cores had per request",
            group(self.postgres, "Postgres"),
            group(self.nats, "nats-server"),
            per_request(self.bench),
            per_request(self.machine),
            format_time(capacity),
        )
    }
}

/// The cores this machine has (1 when it cannot tell).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The ticks processes spent from `before` to `after`: each one's own
/// difference; all of one that started in between (or whose pid a younger
/// process took: it has fewer ticks); nothing of one that ended.
fn spent(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, &ticks)| match before.get(pid) {
            Some(&was) if was <= ticks => ticks - was,
            _ => ticks,
        })
        .sum()
}

/// `12.3 ms` or `45 us`.
fn format_time(time: Duration) -> String {
    if time >= Duration::from_millis(1) {
        format!("{:.1} ms", time.as_secs_f64() * 1e3)
    } else {
        format!("{:.0} us", time.as_secs_f64() * 1e6)
    }
}

/// Every process's pid and command name.
fn processes() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, comm.trim_end().to_owned()))
        })
        .collect()
}

/// User + system ticks of a process (all its threads, ended ones too) or
/// of one thread (`/proc/{pid}/task/{tid}/stat`).
fn stat_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name, in parentheses, may hold spaces: fields start after
    // its closing parenthesis, with the state (field 3); utime and stime
    // are fields 14 and 15.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn process_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

/// The ticks of the server's hashing threads (named `argon2-N`).
fn argon2_ticks(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let dir = task.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            comm.starts_with("argon2")
                .then(|| stat_ticks(&dir.join("stat").to_string_lossy()))
                .flatten()
        })
        .sum()
}

/// Ticks every CPU of the machine spent busy: the `cpu` line of
/// `/proc/stat` less idle and I/O wait.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // counted in user already).
    let busy = ticks.iter().take(8).sum::<u64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_the_machine() {
        let me = std::process::id();
        let before = Snapshot::take(Some(me));
        // Spend 200 ms of CPU (20 ticks) in this process.
        let start = process_ticks(me).unwrap();
        let mut x = 0u64;
        while process_ticks(me).unwrap() < start + 20 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        assert_ne!(x, 1);
        let line = before.report(Some(me), 2, Duration::from_millis(200));
        assert!(
            line.starts_with("CPU per request (user + system): server "),
            "{line}"
        );
        assert!(line.contains("(Argon2 threads 0 us)"), "{line}");
        // At least 200 ms over 2 requests, as the server (this process) and
        // as the bench (this process too).
        let after = |what: &str| -> f64 {
            line.split(what)
                .nth(1)
                .and_then(|s| s.split(" ms").next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{what}: {line}"))
        };
        assert!(after("server ") >= 100.0, "{line}");
        assert!(after("this bench ") >= 100.0, "{line}");
        assert!(after("the machine ") >= 100.0, "{line}");
    }

    #[test]
    fn counts_each_process_from_its_own_start_and_not_those_that_ended() {
        let before = HashMap::from([(10, 500), (11, 7_000), (12, 40)]);
        // 10 spent 30; 11 ended (another test's backend, say); 12 was
        // taken by a younger process that spent 5; 13 started and spent 2.
        let after = HashMap::from([(10, 530), (12, 5), (13, 2)]);
        assert_eq!(spent(&before, &after), 30 + 5 + 2);
        assert_eq!(spent(&after, &after), 0);
    }

    #[test]
    fn a_pid_that_is_no_olympus_here_is_not_measured_as_the_server() {
        let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
        assert!(!comm.starts_with("olympus"), "pid 1 is {comm}");
        let line = Snapshot::take(Some(1)).report(Some(1), 1, Duration::from_secs(1));
        assert!(line.contains("server: not measured"), "{line}");
    }

    #[test]
    fn sums_what_each_group_spent_and_keeps_an_unmeasured_one_unmeasured() {
        let ms = Duration::from_millis;
        let mut total = Spent::default();
        total += Spent {
            server: Some(ms(10)),
            postgres: Some(ms(20)),
            bench: ms(1),
            ..Spent::default()
        };
        total += Spent {
            server: None,
            postgres: Some(ms(5)),
            nats: None,
            bench: ms(2),
            ..Spent::default()
        };
        assert_eq!(total.server, Some(ms(10)));
        assert_eq!(total.postgres, Some(ms(25)));
        assert_eq!(total.nats, None);
        assert_eq!(total.bench, ms(3));
        let line = total.report(5, ms(10));
        assert!(line.contains("server 2.0 ms"), "{line}");
        assert!(line.contains("Postgres 5.0 ms"), "{line}");
        assert!(line.contains("nats-server: not on this machine"), "{line}");
    }

    #[test]
    fn formats_times() {
        assert_eq!(format_time(Duration::from_micros(45)), "45 us");
        assert_eq!(format_time(Duration::from_micros(13_849)), "13.8 ms");
    }

    #[test]
    fn reads_utime_and_stime_after_a_command_name_with_spaces() {
        let dir = std::env::temp_dir().join(format!("olympus-cpu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stat");
        std::fs::write(
            &path,
            "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 0 0",
        )
        .unwrap();
        assert_eq!(stat_ticks(&path.to_string_lossy()), Some(12));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Who acts and from where: the OS user and the machine's name, for the journal, lock
//! holders and notes. A leaf: it reads the environment and nothing of the crate.

/// The OS user, for the journal.
pub fn operator_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_owned())
}

/// This machine's name, for lock holders (`ana@laptop`): the kernel's where it has one,
/// else the shell's `HOSTNAME`/`COMPUTERNAME`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this host".to_owned())
}

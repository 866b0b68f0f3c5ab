//! Kernel support probes for `sandboxctl doctor`: read-only, never create a
//! namespace in the caller (the addon runs inside multi-threaded Node).

use serde::Serialize;

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Userns {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_user_namespaces: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unprivileged_userns_clone: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apparmor_restrict_unprivileged_userns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub kernel_release: String,
    pub userns: Userns,
    pub seccomp: bool,
    pub landlock_abi: i64,
}

fn read_num(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn probe() -> Probe {
    let kernel_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut u = Userns {
        max_user_namespaces: read_num("/proc/sys/user/max_user_namespaces"),
        unprivileged_userns_clone: read_num("/proc/sys/kernel/unprivileged_userns_clone"),
        apparmor_restrict_unprivileged_userns: read_num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        ..Default::default()
    };
    let root = nix::unistd::geteuid().is_root();
    if u.max_user_namespaces == Some(0) {
        u.problem = Some("user namespaces are disabled".into());
        u.hint = Some("sysctl user.max_user_namespaces=15000".into());
    } else if !root && u.unprivileged_userns_clone == Some(0) {
        u.problem = Some("unprivileged user namespaces are disabled".into());
        u.hint = Some("sysctl kernel.unprivileged_userns_clone=1".into());
    } else if !root && u.apparmor_restrict_unprivileged_userns == Some(1) {
        u.problem = Some("AppArmor restricts unprivileged user namespaces".into());
        u.hint = Some("sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows userns".into());
    }
    u.available = u.problem.is_none();
    // prctl(PR_GET_SECCOMP) answers EINVAL when the kernel lacks seccomp.
    // SAFETY: integer arguments only, no pointer (nix has no wrapper for it).
    let seccomp = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } >= 0;
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns the ABI.
    // SAFETY: the version query takes no pointer (nix has no Landlock).
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) };
    Probe { kernel_release, userns: u, seccomp, landlock_abi: if abi < 0 { 0 } else { abi } }
}

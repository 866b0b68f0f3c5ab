//! Named host sets (`--allow-hosts npm,pypi`): the registries a build needs,
//! as data. Each entry is a host rule in `rules`' syntax.

use crate::plan::HostSet;

/// The rules a set stands for.
pub fn set(name: HostSet) -> &'static [&'static str] {
    match name {
        HostSet::Npm => &["registry.npmjs.org", "registry.yarnpkg.com"],
        HostSet::Pypi => &["pypi.org", "files.pythonhosted.org"],
        HostSet::Crates => &["crates.io", "index.crates.io", "static.crates.io", "static.rust-lang.org"],
        HostSet::Github => &["github.com", "api.github.com", "codeload.github.com", "*.githubusercontent.com"],
        HostSet::Go => &["proxy.golang.org", "sum.golang.org", "index.golang.org", "go.dev", "dl.google.com"],
        HostSet::Maven => &["repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org", "services.gradle.org"],
        HostSet::Debian => &["deb.debian.org", "security.debian.org", "snapshot.debian.org"],
    }
}

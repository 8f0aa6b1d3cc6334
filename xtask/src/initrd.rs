//! Building the initrd (a cpio "newc" archive) that becomes the kernel's
//! root file system: files added with `--add`, busybox from the host, and
//! the command for process 1.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the kernel looks for the command of process 1 (NUL-separated
/// arguments); see `kernel/src/init.rs`.
pub const CMD_FILE: &str = "etc/nros/cmd";
/// Debian's busybox-static.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// What goes into an initrd.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// `(host path, guest path)`; directories are added recursively.
    pub adds: Vec<(PathBuf, String)>,
    /// Arguments of process 1 (empty: the kernel's default).
    pub cmd: Vec<String>,
    /// Add the host's static busybox as `/bin/busybox` with applet links.
    pub busybox: bool,
}

/// Parse `HOST[:GUEST]`; a file defaults to `/bin/<name>`, a directory to
/// `/<name>`.
pub fn parse_add(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = match s.split_once(':') {
        Some((h, g)) => (PathBuf::from(h), Some(g.to_string())),
        None => (PathBuf::from(s), None),
    };
    let meta = std::fs::metadata(&host).map_err(|e| format!("--add {}: {e}", host.display()))?;
    let name = host
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("--add {s}: no file name"))?
        .to_string();
    let guest = match guest {
        Some(g) if !g.is_empty() => g,
        _ if meta.is_dir() => format!("/{name}"),
        _ => format!("/bin/{name}"),
    };
    if !guest.starts_with('/') {
        return Err(format!("--add {s}: the guest path must be absolute"));
    }
    Ok((host, guest))
}

/// Split a command line like a shell would (whitespace, single and double
/// quotes, backslash escapes).
pub fn split_cmd(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.push(chars.next().ok_or("--cmd: trailing backslash")?),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                cur.push(chars.next().ok_or("--cmd: trailing backslash")?);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("--cmd: unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn rel(guest: &str) -> &str {
    guest.trim_start_matches('/')
}

fn mtime(m: &std::fs::Metadata) -> u32 {
    m.mtime().clamp(0, i64::from(u32::MAX)) as u32
}

fn add_path(
    w: &mut cpio::Writer,
    host: &Path,
    guest: &str,
    dirs: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(host).map_err(|e| format!("{}: {e}", host.display()))?;
    ensure_parents(w, guest, dirs)?;
    let err = |e: cpio::Error| format!("{}: {e:?}", host.display());
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(host).map_err(|e| format!("{}: {e}", host.display()))?;
        w.add_symlink(
            rel(guest).as_bytes(),
            target.as_os_str().as_encoded_bytes(),
            mtime(&meta),
        )
        .map_err(err)?;
    } else if meta.is_dir() {
        if dirs.insert(guest.to_string()) {
            w.add_dir(
                rel(guest).as_bytes(),
                meta.permissions().mode() & 0o7777,
                mtime(&meta),
            )
            .map_err(err)?;
        }
        let mut entries: Vec<_> = std::fs::read_dir(host)
            .map_err(|e| format!("{}: {e}", host.display()))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            add_path(
                w,
                &e.path(),
                &format!("{}/{}", guest.trim_end_matches('/'), name),
                dirs,
            )?;
        }
    } else {
        let data = std::fs::read(host).map_err(|e| format!("{}: {e}", host.display()))?;
        w.add_file(
            rel(guest).as_bytes(),
            meta.permissions().mode() & 0o7777,
            mtime(&meta),
            &data,
        )
        .map_err(err)?;
    }
    Ok(())
}

fn ensure_parents(
    w: &mut cpio::Writer,
    guest: &str,
    dirs: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let mut acc = String::new();
    let parts: Vec<&str> = guest.split('/').filter(|p| !p.is_empty()).collect();
    for p in parts.iter().take(parts.len().saturating_sub(1)) {
        acc.push('/');
        acc.push_str(p);
        if dirs.insert(acc.clone()) {
            w.add_dir(rel(&acc).as_bytes(), 0o755, 0)
                .map_err(|e| format!("{acc}: {e:?}"))?;
        }
    }
    Ok(())
}

/// Whether the host has a statically linked busybox.
pub fn host_busybox() -> Option<PathBuf> {
    let p = PathBuf::from(HOST_BUSYBOX);
    let bytes = std::fs::read(&p).ok()?;
    // A static executable has no PT_INTERP; the "/lib64/ld-linux" string is
    // a good enough check here (elfload does the real one in the kernel).
    let dynamic = bytes.windows(12).any(|w| w == b"/lib64/ld-li");
    (!dynamic).then_some(p)
}

fn busybox_applets(bb: &Path) -> Vec<String> {
    std::process::Command::new(bb)
        .arg("--list")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .filter(|s| !s.is_empty() && !s.contains('/'))
                .collect()
        })
        .unwrap_or_default()
}

/// Build the archive.
pub fn build(spec: &Spec) -> Result<Vec<u8>, String> {
    let mut w = cpio::Writer::new();
    let mut dirs = std::collections::BTreeSet::new();
    if spec.busybox {
        if let Some(bb) = host_busybox() {
            add_path(&mut w, &bb, "/bin/busybox", &mut dirs)?;
            let mut applets = busybox_applets(&bb);
            applets.retain(|a| a != "busybox");
            if !applets.iter().any(|a| a == "sh") {
                applets.push("sh".into());
            }
            let added: std::collections::BTreeSet<&str> =
                spec.adds.iter().map(|(_, g)| g.as_str()).collect();
            for a in applets {
                let guest = format!("/bin/{a}");
                if !added.contains(guest.as_str()) {
                    w.add_symlink(rel(&guest).as_bytes(), b"busybox", 0)
                        .map_err(|e| format!("{guest}: {e:?}"))?;
                }
            }
        }
    }
    for (host, guest) in &spec.adds {
        add_path(&mut w, host, guest, &mut dirs)?;
    }
    if !spec.cmd.is_empty() {
        ensure_parents(&mut w, &format!("/{CMD_FILE}"), &mut dirs)?;
        let mut data = Vec::new();
        for a in &spec.cmd {
            data.extend_from_slice(a.as_bytes());
            data.push(0);
        }
        w.add_file(CMD_FILE.as_bytes(), 0o644, 0, &data)
            .map_err(|e| format!("{CMD_FILE}: {e:?}"))?;
    }
    Ok(w.finish())
}

/// Build the archive into a file under the target directory.
pub fn write(spec: &Spec, name: &str) -> Result<PathBuf, String> {
    let bytes = build(spec)?;
    let dir = crate::target_dir().join("initrd");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}-{}.cpio", std::process::id()));
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_cmd("/bin/sh -c 'echo a b' x").unwrap(),
            ["/bin/sh", "-c", "echo a b", "x"]
        );
        assert_eq!(
            split_cmd(r#"a "b \" c" d\ e"#).unwrap(),
            ["a", "b \" c", "d e"]
        );
        assert_eq!(split_cmd("  ").unwrap(), Vec::<String>::new());
        assert!(split_cmd("'x").is_err());
        assert_eq!(split_cmd("a ''").unwrap(), ["a", ""]);
    }

    #[test]
    fn archive_has_cmd_and_parents() {
        let dir = std::env::temp_dir().join(format!("xtask-initrd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f.txt"), b"hello").unwrap();
        let spec = Spec {
            adds: vec![
                (dir.join("sub/f.txt"), "/a/b/f.txt".into()),
                (dir.clone(), "/data".into()),
            ],
            cmd: vec!["/bin/x".into(), "y".into()],
            busybox: false,
        };
        let bytes = build(&spec).unwrap();
        let names: Vec<(Vec<u8>, Vec<u8>)> = cpio::entries(&bytes)
            .map(|e| e.unwrap())
            .map(|e| (e.path().to_vec(), e.data.to_vec()))
            .collect();
        let has = |n: &str| names.iter().any(|(p, _)| p == n.as_bytes());
        assert!(has("a") && has("a/b") && has("a/b/f.txt") && has("data/sub/f.txt"));
        let cmd = names
            .iter()
            .find(|(p, _)| p == CMD_FILE.as_bytes())
            .unwrap();
        assert_eq!(cmd.1, b"/bin/x\0y\0");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

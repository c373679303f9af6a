//! Releases a security review would try, signed with the real release key (a leaked key, or a
//! bad build) and served by a real `central serve`: the real `kiosk-update` binary must refuse
//! each at staging, write nothing outside its releases folder, keep the running version, and
//! report the refusal to central.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use common::{App, NIGHT, Rig, app_script};

/// A release tar with a good `bin/kiosk-app` and whatever `extra` appends.
type Tar = tar::Builder<flate2::write::GzEncoder<Vec<u8>>>;

fn artifact(rig: &Rig, name: &str, extra: impl FnOnce(&mut Tar)) -> PathBuf {
    let path = rig.work.join(format!("{name}.tar.gz"));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let script = app_script("0.2.0", App::Healthy);
    let mut header = tar::Header::new_gnu();
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    tar.append_data(&mut header, "bin/kiosk-app", script.as_bytes())
        .unwrap();
    extra(&mut tar);
    std::fs::write(&path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
    path
}

fn refused_at_staging(rig: &Rig, artifact: &Path, outside: &Path) -> serde_json::Value {
    rig.publish_and_roll_out("0.2.0", "0.1.0", artifact);
    rig.write_state("0.1.0", false);
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 2, "{verdict}");
    assert_eq!(verdict["reason"], "bad_artifact", "{verdict}");
    assert_eq!(rig.current(), "0.1.0", "the running version stays");
    assert!(!outside.exists(), "{} was written", outside.display());
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "refused".into(), "bad_artifact".into())]
    );
    verdict
}

#[test]
fn a_symlink_out_of_the_release_and_a_file_through_it_are_refused() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let target = rig.work.join("escaped");
    let evil = artifact(&rig, "symlink", |tar| {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, "share/out", &rig.work).unwrap();
        let body = b"owned";
        let mut file = tar::Header::new_gnu();
        file.set_size(body.len() as u64);
        file.set_mode(0o644);
        tar.append_data(&mut file, "share/out/escaped", &body[..])
            .unwrap();
    });
    let verdict = refused_at_staging(&rig, &evil, &target);
    assert!(
        verdict["detail"]
            .as_str()
            .unwrap()
            .contains("points outside the release"),
        "{verdict}"
    );
}

#[test]
fn a_setuid_program_is_refused() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let evil = artifact(&rig, "setuid", |tar| {
        let body = b"#!/bin/sh\nexec /bin/sh\n";
        let mut file = tar::Header::new_gnu();
        file.set_size(body.len() as u64);
        file.set_mode(0o4755);
        tar.append_data(&mut file, "bin/helper", &body[..]).unwrap();
    });
    let verdict = refused_at_staging(&rig, &evil, &rig.work.join("nothing-here"));
    assert!(verdict.to_string().contains("setuid"), "{verdict}");
}

#[test]
fn a_decompression_bomb_is_refused_before_it_fills_the_disk() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    // 600 MiB of zeros: a few hundred KiB once compressed, over the 512 MiB limit unpacked.
    let evil = artifact(&rig, "bomb", |tar| {
        let size: u64 = 600 << 20;
        let mut file = tar::Header::new_gnu();
        file.set_size(size);
        file.set_mode(0o644);
        tar.append_data(&mut file, "share/zeros", std::io::repeat(0).take(size))
            .unwrap();
    });
    assert!(std::fs::metadata(&evil).unwrap().len() < 4 << 20);
    let verdict = refused_at_staging(&rig, &evil, &rig.work.join("nothing-here"));
    assert!(
        verdict["detail"]
            .as_str()
            .unwrap()
            .contains("unpacks to more than"),
        "{verdict}"
    );
    let staged: u64 = walk(&rig.root.join("releases")).iter().sum();
    assert!(staged < 16 << 20, "{staged} bytes left staged");
}

fn walk(dir: &Path) -> Vec<u64> {
    let mut sizes = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                sizes.extend(walk(&entry.path()));
            } else {
                sizes.push(meta.len());
            }
        }
    }
    sizes
}

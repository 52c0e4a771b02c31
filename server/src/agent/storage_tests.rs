//! The agent's checks of profiles and mappings on a real file system (a scratch folder).
use super::*;
use store::mounts::VolumeMapping;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-storage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("volumes/team")).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    dir
}

fn config(dir: &Path) -> StorageConfig {
    StorageConfig {
        profile_root: dir.join("profiles"),
        volume_roots: vec![dir.join("volumes")],
    }
}

fn spec_with(profile: Option<&str>, volumes: Vec<VolumeMapping>) -> CreateSession {
    let mut spec = CreateSession::example("berth/desktop:latest", "bridge");
    spec.storage.profile = profile.map(str::to_owned);
    spec.storage.volumes = volumes;
    spec
}

fn volume(host: &Path) -> VolumeMapping {
    VolumeMapping {
        host_path: host.display().to_string(),
        container_path: "/mnt/team".into(),
        read_only: true,
    }
}

#[test]
fn a_profile_is_created_under_the_root_and_bound_as_the_home() {
    let dir = scratch();
    let mut spec = spec_with(Some("alice/img"), vec![volume(&dir.join("volumes/team"))]);
    prepare(&config(&dir), &mut spec).unwrap();
    let binds = &spec.storage.binds;
    assert_eq!(binds[0].target, SESSION_HOME);
    assert_eq!(
        binds[0].source,
        std::fs::canonicalize(dir.join("profiles/alice/img")).unwrap()
    );
    assert!(binds[1].read_only);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn paths_outside_the_roots_are_refused_by_name() {
    let dir = scratch();
    let config = config(&dir);
    for profile in ["../elsewhere", "/etc", "a/../../x", ".."] {
        let refused = prepare(&config, &mut spec_with(Some(profile), vec![])).unwrap_err();
        assert_eq!(refused.field, "storage.profile", "{profile}");
    }
    let outside = dir.join("elsewhere");
    let refused = prepare(&config, &mut spec_with(None, vec![volume(&outside)])).unwrap_err();
    assert!(
        refused.message.contains(&outside.display().to_string()),
        "{}",
        refused.message
    );
    // A symlink inside a root that points out of it is resolved, and refused.
    std::os::unix::fs::symlink(&outside, dir.join("volumes/escape")).unwrap();
    let refused = prepare(
        &config,
        &mut spec_with(None, vec![volume(&dir.join("volumes/escape"))]),
    )
    .unwrap_err();
    assert!(refused.message.contains("not under"), "{}", refused.message);
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("profiles/mallory")).unwrap();
    let refused = prepare(&config, &mut spec_with(Some("mallory"), vec![])).unwrap_err();
    assert!(
        refused.message.contains("outside the profile root"),
        "{}",
        refused.message
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reset_empties_the_profile_and_deletion_removes_it() {
    let dir = scratch();
    let config = config(&dir);
    let mut spec = spec_with(Some("bob/img"), vec![]);
    prepare(&config, &mut spec).unwrap();
    std::fs::write(dir.join("profiles/bob/img/notes.txt"), "kept").unwrap();
    prepare(&config, &mut spec).unwrap();
    assert!(dir.join("profiles/bob/img/notes.txt").exists());
    spec.storage.reset_profile = true;
    prepare(&config, &mut spec).unwrap();
    assert!(!dir.join("profiles/bob/img/notes.txt").exists());
    assert_eq!(
        delete_profiles(&config, &["bob/img".into()]).unwrap(),
        ["bob/img"]
    );
    assert!(!dir.join("profiles/bob/img").exists());
    assert!(delete_profiles(&config, &["../elsewhere".into()]).is_err());
    assert!(dir.join("elsewhere").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn volume_roots_are_absolute_comma_separated_paths() {
    let config = StorageConfig::parse(None, " /srv/a, /srv/b ,").unwrap();
    assert_eq!(
        config.volume_roots,
        [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
    );
    assert_eq!(config.profile_root, PathBuf::from(DEFAULT_PROFILE_ROOT));
    assert!(StorageConfig::parse(None, "relative").is_err());
    assert!(StorageConfig::parse(Some(Path::new("rel")), "").is_err());
    assert!(StorageConfig::parse(None, "")
        .unwrap()
        .volume_roots
        .is_empty());
}

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
        transfer_root: Some(dir.join("transfers")),
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
    let config = StorageConfig::parse(None, " /srv/a, /srv/b ,", None).unwrap();
    assert_eq!(
        config.volume_roots,
        [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
    );
    assert_eq!(config.profile_root, PathBuf::from(DEFAULT_PROFILE_ROOT));
    assert!(StorageConfig::parse(None, "relative", None).is_err());
    assert!(StorageConfig::parse(Some(Path::new("rel")), "", None).is_err());
    assert!(StorageConfig::parse(None, "", None)
        .unwrap()
        .volume_roots
        .is_empty());
}

#[test]
fn the_transfer_root_has_a_default_can_move_and_can_be_switched_off() {
    let parse = |root| StorageConfig::parse(None, "", root);
    let default = Some(PathBuf::from(DEFAULT_TRANSFER_ROOT));
    assert_eq!(parse(None).unwrap().transfer_root, default);
    assert_eq!(parse(Some(" ")).unwrap().transfer_root, default);
    assert_eq!(
        parse(Some("/srv/t")).unwrap().transfer_root,
        Some(PathBuf::from("/srv/t"))
    );
    assert_eq!(parse(Some("off")).unwrap().transfer_root, None);
    assert!(parse(Some("t"))
        .unwrap_err()
        .contains("BERTH_TRANSFER_ROOT"));
}

#[test]
fn a_session_without_a_profile_gets_transfer_folders_of_its_own_until_removed() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch();
    let config = config(&dir);
    let mut spec = spec_with(None, vec![]);
    prepare(&config, &mut spec).unwrap();
    let folder = dir.join("transfers").join(spec.session_id.to_string());
    let binds: Vec<(PathBuf, &str)> = spec
        .storage
        .binds
        .iter()
        .map(|bind| (bind.source.clone(), bind.target.as_str()))
        .collect();
    assert_eq!(
        binds,
        [
            (folder.join("Uploads"), "/home/berth/Uploads"),
            (folder.join("Downloads"), "/home/berth/Downloads")
        ]
    );
    assert_eq!(
        std::fs::metadata(folder.join("Uploads")).unwrap().uid(),
        SESSION_UID
    );
    assert_eq!(transfer_folders(&config), [spec.session_id]);
    remove_transfer_folder(&config, spec.session_id).unwrap();
    assert!(!folder.exists());
    assert!(transfer_folders(&config).is_empty());

    // A profile holds them; a volume mapping may take one; switched off, none.
    let mut profiled = spec_with(Some("ann"), vec![]);
    prepare(&config, &mut profiled).unwrap();
    assert_eq!(profiled.storage.binds.len(), 1);
    let mut mapped = spec_with(
        None,
        vec![VolumeMapping {
            host_path: dir.join("volumes/team").display().to_string(),
            container_path: "/home/berth/Downloads".into(),
            read_only: true,
        }],
    );
    prepare(&config, &mut mapped).unwrap();
    let targets: Vec<&str> = mapped
        .storage
        .binds
        .iter()
        .map(|b| b.target.as_str())
        .collect();
    assert_eq!(targets, ["/home/berth/Downloads", "/home/berth/Uploads"]);
    let off = StorageConfig {
        transfer_root: None,
        ..config.clone()
    };
    let mut plain = spec_with(None, vec![]);
    prepare(&off, &mut plain).unwrap();
    assert!(plain.storage.binds.is_empty());
}

#[test]
fn a_transfer_root_the_agent_cannot_use_is_switched_off_not_fatal() {
    let dir = scratch();
    let usable = with_usable_transfer_root(config(&dir));
    assert_eq!(usable.transfer_root, Some(dir.join("transfers")));
    assert!(
        transfer_folders(&usable).is_empty(),
        "the probe was left behind"
    );
    // A file where the root should be.
    std::fs::write(dir.join("blocked"), "").unwrap();
    let blocked = StorageConfig {
        transfer_root: Some(dir.join("blocked/transfers")),
        ..config(&dir)
    };
    let off = with_usable_transfer_root(blocked);
    assert_eq!(off.transfer_root, None);
    let mut spec = spec_with(None, vec![]);
    prepare(&off, &mut spec).unwrap();
    assert!(spec.storage.binds.is_empty());
}

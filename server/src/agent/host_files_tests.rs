//! Transfers through host folders on a real file system (a scratch folder standing for a
//! profile mounted as the home, so that the user's `Uploads` and `Downloads` are below it).
use super::*;
use std::os::unix::fs::{symlink, MetadataExt};

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn home() -> Scratch {
    let dir = std::env::temp_dir().join(format!("berth-host-files-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn below(home: &Scratch, folder: Folder) -> Backing {
    Backing {
        source: home.0.clone(),
        rest: vec![folder.name().to_owned()],
    }
}

fn body(pieces: Vec<&'static [u8]>) -> ByteStream {
    Box::pin(futures_util::stream::iter(
        pieces
            .into_iter()
            .map(|piece| Ok(bytes::Bytes::from_static(piece))),
    ))
}

async fn read_all(stream: ByteStream) -> Result<Vec<u8>, std::io::Error> {
    let pieces: Vec<bytes::Bytes> = stream
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(pieces.concat())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_mount_holding_a_folder_is_the_longest_that_contains_it() {
    let mounts = vec![
        ("/home/berth".to_owned(), PathBuf::from("/profiles/ann")),
        (
            "/home/berth/Downloads".to_owned(),
            PathBuf::from("/t/s/Downloads"),
        ),
        ("/home/berthx".to_owned(), PathBuf::from("/elsewhere")),
    ];
    assert_eq!(
        backing(&mounts, "/home/berth/Downloads"),
        Some(Backing {
            source: PathBuf::from("/t/s/Downloads"),
            rest: vec![]
        })
    );
    assert_eq!(
        backing(&mounts, "/home/berth/Uploads"),
        Some(Backing {
            source: PathBuf::from("/profiles/ann"),
            rest: vec!["Uploads".into()]
        })
    );
    assert_eq!(backing(&mounts[2..], "/home/berth/Uploads"), None);
    assert_eq!(backing(&[], "/home/berth/Uploads"), None);
}

#[tokio::test]
async fn an_upload_lands_whole_and_owned_by_the_session_user_leaving_nothing_else() {
    let home = home();
    let backing = below(&home, Folder::Uploads);
    let size = upload(
        backing.clone(),
        "a.txt",
        11,
        body(vec![b"hello ", b"world"]),
    )
    .await
    .unwrap();
    assert_eq!(size, 11);
    let written = home.0.join("Uploads/a.txt");
    assert_eq!(std::fs::read(&written).unwrap(), b"hello world");
    assert_eq!(std::fs::metadata(&written).unwrap().uid(), SESSION_UID);
    assert_eq!(
        std::fs::metadata(home.0.join("Uploads")).unwrap().uid(),
        SESSION_UID
    );
    // A second upload of the name replaces it.
    upload(backing, "a.txt", 3, body(vec![b"new"]))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&written).unwrap(), b"new");
    assert_eq!(names_in(&home.0.join("Uploads")), ["a.txt"]);
}

#[tokio::test]
async fn a_short_or_long_upload_leaves_nothing_behind() {
    let home = home();
    let backing = below(&home, Folder::Uploads);
    let short = upload(backing.clone(), "a", 10, body(vec![b"abc"])).await;
    assert!(
        matches!(&short, Err(FileError::Refused(m)) if m.contains("before the whole file")),
        "{short:?}"
    );
    let long = upload(backing.clone(), "b", 2, body(vec![b"abc"])).await;
    assert!(
        matches!(&long, Err(FileError::Refused(m)) if m.contains("longer")),
        "{long:?}"
    );
    let broken: ByteStream = Box::pin(futures_util::stream::iter(vec![
        Ok(bytes::Bytes::from_static(b"ab")),
        Err(std::io::Error::other("connection reset")),
    ]));
    let cut = upload(backing, "c", 10, broken).await;
    assert!(
        matches!(&cut, Err(FileError::Refused(m)) if m.contains("interrupted")),
        "{cut:?}"
    );
    assert!(names_in(&home.0.join("Uploads")).is_empty());
}

#[tokio::test]
async fn links_the_user_made_are_never_written_through() {
    let home = home();
    let victim = home.0.join("victim");
    std::fs::write(&victim, "original").unwrap();
    std::fs::create_dir(home.0.join("Uploads")).unwrap();
    symlink(&victim, home.0.join("Uploads/x")).unwrap();
    std::fs::create_dir(home.0.join("Uploads/folder")).unwrap();
    let backing = below(&home, Folder::Uploads);
    let through = upload(backing.clone(), "x", 4, body(vec![b"evil"])).await;
    assert!(
        matches!(&through, Err(FileError::Refused(m)) if m.contains("symbolic link")),
        "{through:?}"
    );
    let folder = upload(backing, "folder", 4, body(vec![b"evil"])).await;
    assert!(
        matches!(&folder, Err(FileError::Refused(m)) if m.contains("is a folder")),
        "{folder:?}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original");

    // The folder itself replaced by a link elsewhere.
    let elsewhere = home.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir_all(home.0.join("Uploads")).unwrap();
    symlink(&elsewhere, home.0.join("Uploads")).unwrap();
    symlink(&elsewhere, home.0.join("Downloads")).unwrap();
    std::fs::write(elsewhere.join("secret"), "s").unwrap();
    let refused = upload(below(&home, Folder::Uploads), "y", 1, body(vec![b"y"])).await;
    assert!(
        matches!(&refused, Err(FileError::Refused(m)) if m.contains("~/Uploads is a symbolic link")),
        "{refused:?}"
    );
    let listing = list(below(&home, Folder::Downloads)).await;
    assert!(
        matches!(&listing, Err(FileError::Refused(m)) if m.contains("~/Downloads is a symbolic link")),
        "{listing:?}"
    );
    let read = download(below(&home, Folder::Downloads), "secret").await;
    assert!(
        matches!(&read, Err(FileError::Refused(_))),
        "{:?}",
        read.err()
    );
    assert_eq!(names_in(&elsewhere), ["secret"]);
}

#[tokio::test]
async fn downloads_read_regular_files_and_links_within_the_folder_only() {
    let home = home();
    let downloads = home.0.join("Downloads");
    std::fs::create_dir(&downloads).unwrap();
    std::fs::write(downloads.join("real"), "in\n").unwrap();
    std::fs::write(home.0.join(".bashrc"), "private").unwrap();
    symlink("real", downloads.join("alias")).unwrap();
    symlink(
        format!("{SESSION_HOME}/Downloads/real"),
        downloads.join("absolute"),
    )
    .unwrap();
    symlink("../.bashrc", downloads.join("rc")).unwrap();
    symlink("/etc/passwd", downloads.join("pw")).unwrap();
    symlink("gone", downloads.join("broken")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        downloads.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let backing = below(&home, Folder::Downloads);
    for name in ["real", "alias", "absolute"] {
        let (size, stream) = download(backing.clone(), name).await.unwrap();
        assert_eq!(size, 3);
        assert_eq!(read_all(stream).await.unwrap(), b"in\n", "{name}");
    }
    for (name, problem) in [
        ("rc", "outside ~/Downloads"),
        ("pw", "outside ~/Downloads"),
        ("broken", "broken"),
        ("fifo", "not a regular file"),
    ] {
        let refused = download(backing.clone(), name).await;
        assert!(
            matches!(&refused, Err(FileError::Refused(m)) if m.contains(problem)),
            "{name}: {:?}",
            refused.err()
        );
    }
    let missing = download(backing.clone(), "nothing").await;
    assert!(matches!(missing, Err(FileError::Missing(_))));

    let listed: Vec<String> = list(backing)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, ["real"]);
}

#[tokio::test]
async fn a_file_that_shrinks_while_read_ends_the_download_with_an_error() {
    let home = home();
    let downloads = home.0.join("Downloads");
    std::fs::create_dir(&downloads).unwrap();
    std::fs::write(downloads.join("f"), vec![7u8; 3 << 20]).unwrap();
    let (size, stream) = download(below(&home, Folder::Downloads), "f")
        .await
        .unwrap();
    assert_eq!(size, 3 << 20);
    std::fs::OpenOptions::new()
        .write(true)
        .open(downloads.join("f"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let read = read_all(stream).await;
    assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn a_missing_downloads_folder_lists_empty_and_is_created_for_the_user() {
    let home = home();
    assert!(list(below(&home, Folder::Downloads))
        .await
        .unwrap()
        .is_empty());
    let made = std::fs::symlink_metadata(home.0.join("Downloads")).unwrap();
    assert!(made.is_dir());
    assert_eq!(made.uid(), SESSION_UID);
}

#[tokio::test]
async fn parallel_uploads_of_one_name_leave_one_whole_file_and_nothing_else() {
    let home = home();
    let backing = below(&home, Folder::Uploads);
    let contents: Vec<Vec<u8>> = (0..16u8).map(|n| vec![n; 3 << 20]).collect();
    let uploads = contents.iter().map(|content| {
        let backing = backing.clone();
        let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = content
            .chunks(64 << 10)
            .map(|piece| Ok(bytes::Bytes::copy_from_slice(piece)))
            .collect();
        async move {
            let body: ByteStream = Box::pin(futures_util::stream::iter(pieces));
            upload(backing, "same.bin", 3 << 20, body).await
        }
    });
    for outcome in futures_util::future::join_all(uploads).await {
        assert_eq!(outcome.unwrap(), 3 << 20);
    }
    let stored = std::fs::read(home.0.join("Uploads/same.bin")).unwrap();
    assert!(contents.contains(&stored), "the file mixes several uploads");
    assert_eq!(names_in(&home.0.join("Uploads")), ["same.bin"]);
}

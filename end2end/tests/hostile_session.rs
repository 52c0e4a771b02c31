//! A session's own user is hostile: they stop their desktop's VNC server and listen on the
//! session port themselves, serving a script that would make its reader an administrator.
//! They share the session, and an administrator opens the link. Berth never hands a browser
//! anything from the container but the RFB stream (and a listener that is not RFB gets no
//! stream at all), the pages' Content-Security-Policy runs no inline or foreign script, and
//! the administrator's page keeps working.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// Run in the container as its user: stop the entrypoint (so that the container stays up),
/// end Xvnc, and answer every connection to port 5901 with a script, logging what arrives.
const TAKE_OVER: &str = r#"
for p in /proc/[0-9]*; do
  if [ "$(cat "$p/comm" 2>/dev/null)" = bash ] && grep -q berth-entrypoint "$p/cmdline"; then
    kill -STOP "${p#/proc/}"
  fi
done
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = Xvnc ] && kill "${p#/proc/}"
done
sleep 1
exec perl -MIO::Socket::INET -e '
  my $payload = "fetch(\"/rpc/admin/create_user\", {method: \"POST\", body: new URLSearchParams({username: \"$ENV{PWNED}\", password: \"pwned-password-1\", first_name: \"\", last_name: \"\", organization: \"\", role: \"admin\"})}); top.pwned = 1;";
  my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 5901, Listen => 16, ReuseAddr => 1) or die "listen: $!";
  open(my $ready, ">", "/tmp/attacker.ready"); close($ready);
  $| = 1;
  while (my $client = $server->accept) {
    open(my $log, ">>", "/tmp/attacker.log");
    print $log "connection\n";
    print $client "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: " . length($payload) . "\r\n\r\n" . $payload;
    my $received = "";
    eval {
      local $SIG{ALRM} = sub { die "quiet\n" };
      alarm 2;
      while (sysread($client, my $chunk, 4096)) { $received .= $chunk; }
      alarm 0;
    };
    $received =~ s/[^[:print:]]/./g;
    print $log "received: $received\n";
    close($log);
    close($client);
  }
'
"#;

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a script inserted into the page now (inline text, or a `data:` URL) runs.
async fn inserted_scripts_run(client: &Client) -> serde_json::Value {
    client
        .execute_async(
            r#"const done = arguments[0];
               const inline = document.createElement('script');
               inline.textContent = 'window.inlineRan = true;';
               document.head.appendChild(inline);
               const foreign = document.createElement('script');
               foreign.src = 'data:text/javascript,window.foreignRan = true;';
               foreign.onload = foreign.onerror = () =>
                 done({inline: window.inlineRan === true, foreign: window.foreignRan === true});
               document.head.appendChild(foreign);"#,
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_user_serving_a_script_on_the_session_port_runs_nothing_in_a_viewers_page() {
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let mallory = format!("mallory{}", unique());
    let pwned = format!("pwned{}", unique());
    create_user_as_admin(&admin, &mallory, "mallory-password").await;

    let attacker = browser().await;
    sign_in(&attacker, &mallory, "mallory-password").await;
    let session_id = launch(&attacker, "Desktop").await;
    let container = container_of(&session_id);
    let link = share_link(&attacker).await;

    // The session's own user (uid 1000, as exec_command_kasm runs) takes the port over.
    let pwned_env = format!("PWNED={pwned}");
    docker(&[
        "exec", "-d", "-u", "1000", "-e", &pwned_env, &container, "sh", "-c", TAKE_OVER,
    ]);
    let mut listening = false;
    for _ in 0..40 {
        if file_exists(&container, "/tmp/attacker.ready") {
            listening = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(listening, "the attacker's listener did not start");

    // The administrator opens the shared session.
    admin.goto(&format!("{}{link}", base())).await.unwrap();
    hydrated(&admin).await;
    wait_until(
        &admin,
        "the viewer's page",
        "return !!document.getElementById('watching');",
    )
    .await;
    let connected = "const f = document.getElementById('desktop-frame'); return !!(f && f.contentWindow && f.contentWindow.location.pathname === '/viewer.html' && f.contentDocument.readyState === 'complete');";
    wait_until(&admin, "the viewer frame", connected).await;
    // Give the viewer's client time to try the stream (and to retry).
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Berth did reach the attacker's listener, and sent it nothing of a browser's: no HTTP
    // request for a page or script (Berth waits for an RFB greeting, which never comes).
    let log = docker(&["exec", &container, "cat", "/tmp/attacker.log"]);
    assert!(
        log.contains("connection"),
        "Berth never connected to the session port: {log}"
    );
    assert!(
        !log.contains("GET ") && !log.contains("HTTP/"),
        "a browser's request reached the container: {log}"
    );

    // Nothing the container sent ran: no flag, no new administrator.
    let flags = admin
        .execute(
            "const f = document.getElementById('desktop-frame'); return [window.pwned === 1, !!(f && f.contentWindow.pwned === 1)];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(flags, json!([false, false]), "the container's script ran");
    let users = admin
        .execute_async(
            "const done = arguments[0]; fetch('/rpc/admin/list_users', {method: 'POST', body: new URLSearchParams({search: ''})}).then(r => r.text()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    let users = users.as_str().unwrap_or_default().to_owned();
    assert!(
        users.contains(&mallory),
        "the user list did not load: {users}"
    );
    assert!(
        !users.contains(&pwned),
        "the container's script created {pwned}"
    );

    // Every page carries the policy; scripts written into a page or from data: URLs don't run,
    // in the page and in the desktop frame alike.
    let policy = admin
        .execute_async(
            "const done = arguments[0]; fetch(location.href).then(r => done(r.headers.get('content-security-policy')));",
            vec![],
        )
        .await
        .unwrap();
    let policy = policy.as_str().unwrap_or_default().to_owned();
    assert!(
        policy.contains("script-src 'self' 'nonce-"),
        "no script policy: {policy:?}"
    );
    assert_eq!(
        inserted_scripts_run(&admin).await,
        json!({"inline": false, "foreign": false})
    );
    admin.enter_frame(Some(0)).await.expect("the desktop frame");
    assert_eq!(
        inserted_scripts_run(&admin).await,
        json!({"inline": false, "foreign": false})
    );
    admin.enter_parent_frame().await.unwrap();

    // The page still works: it is hydrated and the chat answers.
    assert!(text_of(&admin, "#watching").await.contains("view only"));
    assert!(admin.find(Locator::Css("#chat-input")).await.is_ok());

    docker(&["rm", "-f", &container]);
    attacker.close().await.unwrap();
    admin.close().await.unwrap();
}

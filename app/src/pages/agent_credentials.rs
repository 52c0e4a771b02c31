//! Admin → Servers: adding an agent, and the credential just issued to one (shown once, with
//! how to hand it to `berth agent` without putting it on a command line).
use super::layout::{field_error, other_error, ErrorText};
use crate::api::AddServer;
use crate::model::NewAgentCredential;
use leptos::prelude::*;

/// The credential an agent was just issued, and the commands that start the agent with it.
#[component]
pub fn NewCredentialCard(issued: NewAgentCredential) -> impl IntoView {
    let command = format!(
        "umask 077; cat > /etc/berth/agent-token    # paste the credential, then Ctrl-D\n\
         berth agent --manager <URL> --name {} --token-file /etc/berth/agent-token \\\n    \
         --listen 0.0.0.0:7001 --advertise-url http://<that-host>:7001",
        issued.name
    );
    view! {
        <div class="card" id="new-credential" data-server-id=issued.server_id.to_string()>
            <h2>{format!("Credential of {}", issued.name)}</h2>
            <p>"Copy it now: it is not shown again (Berth keeps only its hash). It lets an agent check in as "
                <strong>{issued.name.clone()}</strong>" and as nothing else."</p>
            <pre><code id="agent-credential">{issued.credential}</code></pre>
            <p>"On the agent's host, put it in a file only the agent's user can read and start the agent:"</p>
            <pre id="agent-command"><code>{command}</code></pre>
            <p class="muted">"BERTH_AGENT_TOKEN in the agent's environment works too; a token on the command line is refused (every user of the host could read it). "
                "<URL> is this server as that host reaches it; use https when the network between them is not trusted."</p>
        </div>
    }
}

/// Registers a new agent by name; the credential appears in a [`NewCredentialCard`].
#[component]
pub fn AddServerCard(add: ServerAction<AddServer>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Add a Docker host"</h2>
            <p>"Each agent has its own credential, bound to its name: it cannot check in as another agent. "
                "Give the name the agent will use (its host name, or its --name)."</p>
            <ActionForm action=add attr:id="add-server-form" attr:class="inline-form">
                <input name="name" aria-label="Agent name" placeholder="e.g. gpu-host-1" required />
                <button type="submit" class="primary">"Add server"</button>
            </ActionForm>
            <ErrorText message=Signal::derive(field_error(add.value(), "name")) />
            <ErrorText message=Signal::derive(other_error(add.value(), &["name"])) />
            <p class="muted">"Empty cores or memory clears an override; drained servers keep their sessions but get no new ones. "
                "New credential replaces an agent's credential (the old one stops working); Revoke takes it away."</p>
        </section>
    }
}

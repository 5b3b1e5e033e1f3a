// coalmine dashboard: live parts over server-sent events, and the step-in buttons.
// No data is ever put into this script: it reads data-* attributes the server escaped.
"use strict";
(function () {
  const body = document.body;
  const live = document.getElementById("live");
  const csrf = body.dataset.csrf;

  function connect() {
    const source = new EventSource(body.dataset.stream);
    source.onopen = function () { live.textContent = "live"; live.className = "live on"; };
    source.onerror = function () { live.textContent = "reconnecting…"; live.className = "live off"; };
    source.onmessage = function (message) {
      const parts = JSON.parse(message.data);
      for (const id of Object.keys(parts)) {
        const element = document.getElementById(id);
        if (element === null) continue;
        if (id === "count") element.textContent = parts[id];
        else element.innerHTML = parts[id];  // server-rendered, every value escaped
      }
      live.textContent = "live · updated " + new Date().toLocaleTimeString();
    };
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-ask]");
    if (button === null || button.disabled) return;
    const asked = button.dataset.ask;
    const actions = document.getElementById("actions");
    const name = document.querySelector("h1").firstChild.textContent.trim();
    if (!window.confirm(asked + " " + name + "?")) return;
    const said = document.getElementById("said");
    const answer = await fetch(actions.dataset.url + "/" + asked, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: "{}",
    });
    const reply = await answer.json();
    said.textContent = reply.said || reply.error || ("HTTP " + answer.status);
    said.className = answer.ok ? "said ok" : "said refused";
  });

  if (body.dataset.stream) connect();
})();

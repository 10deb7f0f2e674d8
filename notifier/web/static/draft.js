// The draft page: live content check while editing, and the #edit / #reject anchors the
// queue's 'e' and 'r' keys open. Problems are shown as text (textContent), never as HTML.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const form = document.getElementById("edit-form");
  const body = document.getElementById("edit-body");
  const subject = document.getElementById("edit-subject");
  const list = document.getElementById("live-problems");
  const segments = document.getElementById("live-segments");
  const status = document.getElementById("live-status");
  const data = form ? form.dataset : {};
  const texts = {  // the page's language, from data-text-* on the form
    clean: data.textClean || "OK", checking: data.textChecking || "…",
    failed: data.textFailed || "?", segments: data.textSegments || "{n}",
  };

  function focusFromHash() {
    let target = null;
    if (window.location.hash === "#edit") target = body;
    else if (window.location.hash === "#reject") target = document.getElementById("reject-reason");
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.focus();
    }
  }
  window.addEventListener("hashchange", focusFromHash);
  // After 'load': the browser's own jump to the #fragment would take the focus away again.
  if (document.readyState === "complete") focusFromHash();
  else window.addEventListener("load", focusFromHash);

  if (!form || !body || !list) return;
  let timer = null;
  let sequence = 0;

  function show(problems, count, encoding) {
    list.replaceChildren();
    if (problems.length === 0) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = texts.clean;
      list.appendChild(li);
    }
    for (const problem of problems) {
      const li = document.createElement("li");
      li.className = "bad";
      li.textContent = problem;
      list.appendChild(li);
    }
    if (segments) {
      segments.textContent = count === null || count === undefined
        ? "" : texts.segments.replace("{n}", String(count)) + (encoding ? " · " + encoding : "");
    }
  }

  async function check() {
    const mine = ++sequence;
    if (status) status.textContent = texts.checking;
    try {
      const answer = await fetch(form.dataset.lintUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
        body: JSON.stringify({ body: body.value, subject: subject ? subject.value : null }),
      });
      if (!answer.ok) throw new Error(String(answer.status));
      const result = await answer.json();
      if (mine !== sequence) return; // a newer check is under way
      // the reasons in the reviewer's language (the codes stay in "problems")
      show(result.labels || result.problems || [], result.segments,
        result.encoding_label || result.encoding);
      if (status) status.textContent = "";
    } catch (error) {
      if (mine === sequence && status) status.textContent = texts.failed;
    }
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  }
  body.addEventListener("input", later);
  if (subject) subject.addEventListener("input", later);
  check();
})();

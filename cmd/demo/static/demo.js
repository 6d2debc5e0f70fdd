// The "parallel requests" button: fire n POST /parallel at once, each
// setting its own session key to this run's id, then ask the server how
// many of the keys hold the id. The result goes in #parallel-result, with
// data-state "ok" when all n landed, "missing" otherwise.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("parallel");
  if (!button) {
    return;
  }
  const out = document.getElementById("parallel-result");
  const keys = document.getElementById("keys");

  button.addEventListener("click", async () => {
    const n = Number(button.dataset.n);
    const run = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
    button.disabled = true;
    out.dataset.state = "running";
    out.textContent = `Sending ${n} requests…`;
    const started = performance.now();
    try {
      const sent = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          fetch("/parallel", {
            method: "POST",
            body: new URLSearchParams({ run, i: String(i) }),
          }).then((resp) => {
            if (!resp.ok) {
              throw new Error(`request ${i}: ${resp.status}`);
            }
          }),
        ),
      );
      const ms = Math.round(performance.now() - started);
      const failed = sent.filter((r) => r.status === "rejected").length;
      const resp = await fetch(`/parallel?run=${encodeURIComponent(run)}&n=${n}`);
      if (!resp.ok) {
        throw new Error(`checking: ${resp.status}`);
      }
      const got = await resp.json();
      out.dataset.landed = String(got.landed);
      out.dataset.state = got.landed === n && failed === 0 ? "ok" : "missing";
      out.textContent = `${got.landed} of ${n} landed` +
        (failed ? `, ${failed} requests failed` : "") + ` (${ms} ms)`;
      if (keys) {
        keys.textContent = String(got.keys);
      }
    } catch (err) {
      out.dataset.state = "error";
      out.textContent = `Failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
});

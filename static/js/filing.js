// The submission form: server-side autosave every 30 s and when a field is left, a stale tab
// stops instead of overwriting newer text, and the submit button cannot be pressed twice.
(function () {
  "use strict";
  var form = document.getElementById("submission-form");
  if (!form) { return; }
  var status = document.getElementById("autosave-status");
  var dirty = false;
  var stopped = false;
  var busy = false;
  var waitingSubmitter = null;  // a submit pressed while an autosave was on its way
  var waiting = false;
  var resubmitting = false;

  function finished() {
    busy = false;
    if (dirty && !stopped && !waiting) {
      // Something changed while this save was on its way: save that too, soon.
      window.setTimeout(save, 800);
    }
    if (waiting) {
      // Submit now, with the version the autosave just returned (else it would look stale).
      waiting = false;
      resubmitting = true;
      if (waitingSubmitter && form.requestSubmit) {
        form.requestSubmit(waitingSubmitter);
      } else {
        form.submit();
      }
    }
  }

  function field(name) { return form.querySelector('[name="' + name + '"]'); }
  function say(text) { if (status) { status.textContent = text; } }

  function save() {
    if (!dirty || stopped || busy) { return; }
    busy = true;
    dirty = false;
    var data = new FormData(form);
    data.delete("attachments");  // files travel only with an explicit save
    fetch(form.getAttribute("data-autosave-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") !== 0) {
        // An HTML answer means the session ended (timeout, logout elsewhere) or the form expired.
        return { status: 401, body: { message: "登录已过期，本页不再自动保存。请先复制您填写的内容，再重新登录。" } };
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      if (result.status === 200) {
        field("version").value = result.body.version;
        field("submission_id").value = result.body.id;
        form.setAttribute("action", result.body.edit_url);
        var time = new Date(result.body.saved_at);
        say("已自动保存 " + time.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" }));
      } else if (result.status === 409 || result.status === 401) {
        stopped = true;
        say(result.body.message);
        if (status) { status.classList.add("text-danger"); status.setAttribute("role", "alert"); }
      } else {
        dirty = true;
        say(result.body.message || "自动保存未成功，请手动点击“保存草稿”。");
      }
      finished();
    }).catch(function () {
      dirty = true;
      say("网络中断，暂未保存；恢复后将自动重试。");
      finished();
    });
  }

  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  form.addEventListener("focusout", save);
  window.setInterval(save, 30000);

  // A second click (or Enter) while the first submission is on its way does nothing.
  form.addEventListener("submit", function (event) {
    if (resubmitting) {
      resubmitting = false;
      form.setAttribute("data-sending", "1");
      stopped = true;
      return;
    }
    if (form.getAttribute("data-sending") === "1" || waiting) {
      event.preventDefault();  // a second click while the first is on its way
      return;
    }
    if (busy) {
      event.preventDefault();
      waiting = true;
      waitingSubmitter = event.submitter || null;
      return;
    }
    form.setAttribute("data-sending", "1");
    stopped = true;
  });
})();

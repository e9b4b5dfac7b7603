// The アップロード page: each chosen or dropped file is sent on its own (XMLHttpRequest, so the
// browser reports upload progress), then its state is asked for every second until it is done.
// Everything that came from a file (its name, the result) is put in with textContent, never as HTML.
"use strict";
(function () {
  var root = document.getElementById("upload");
  if (!root) { return; }
  var csrf = root.getAttribute("data-csrf");
  var words = JSON.parse(root.getAttribute("data-words"));
  var maxBytes = Number(root.getAttribute("data-max-bytes"));
  var list = document.getElementById("list");
  var input = document.getElementById("files");
  var drop = document.getElementById("drop");
  var POLL_MS = 1000;
  var FINAL = { passed: true, sanitized: true, blocked: true, failed: true, missing: true, error: true };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function setState(row, state) {
    row.badge.textContent = words["state_" + state] || state;
    row.badge.className = "badge badge-" + state;
    row.item.setAttribute("data-state", state);
  }

  function showResult(row, file) {
    row.result.textContent = "";
    if (file.reason) {
      var reason = el("p", "reason");
      reason.appendChild(el("strong", "", words.blocked_reason + ": "));
      reason.appendChild(document.createTextNode(file.reason));
      row.result.appendChild(reason);
      row.result.appendChild(el("p", "reference", words.reference + ": " + file.reference + " " + words.ask_admin));
      return;
    }
    if (file.removed.length) {
      row.result.appendChild(el("p", "removed-title", words.removed + ":"));
      var removed = el("ul", "removed");
      file.removed.forEach(function (sentence) { removed.appendChild(el("li", "", sentence)); });
      row.result.appendChild(removed);
    } else {
      row.result.appendChild(el("p", "", words.nothing_removed));
    }
    row.result.appendChild(el("p", "reference", words.reference + ": " + file.reference));
    row.result.appendChild(el("p", "pickup", words.pick_up));
  }

  function poll(row, id) {
    var request = new XMLHttpRequest();
    request.open("GET", "/console/api/transfers/" + encodeURIComponent(id));
    request.responseType = "json";
    request.onload = function () {
      if (request.status !== 200 || !request.response) {  // the file was taken; only its state is unknown
        row.result.textContent = "";
        row.result.appendChild(el("p", "error", words["error_" + request.status] || words.error_other));
        return;
      }
      var answer = request.response;
      var file = answer.files[0];
      var state = file ? file.state : answer.state;  // processing: the file's stage (scanning, disarming)
      setState(row, state);
      if (answer.state === "done" && file) {
        showResult(row, file);
      }
      if (!FINAL[state]) {  // held by an operator: that takes a while, ask less often
        window.setTimeout(function () { poll(row, id); }, state === "held" ? POLL_MS * 10 : POLL_MS);
      }
    };
    request.onerror = function () { window.setTimeout(function () { poll(row, id); }, POLL_MS * 3); };
    request.send();
  }

  function fail(row, status) {
    setState(row, "error");
    var key = "error_" + status;
    row.result.textContent = "";
    row.result.appendChild(el("p", "error", words.upload_failed + ": " + (words[key] || words.error_other)));
  }

  function send(file) {
    var item = el("li", "card file");
    var head = el("p", "file-head");
    head.appendChild(el("span", "name", file.name));
    var badge = el("span", "badge");
    head.appendChild(badge);
    item.appendChild(head);
    var progress = el("progress", "progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", file.name);
    item.appendChild(progress);
    var result = el("div", "result");
    item.appendChild(result);
    list.appendChild(item);
    var row = { item: item, badge: badge, progress: progress, result: result };
    setState(row, "uploading");
    if (file.size > maxBytes) {  // the server would refuse it (413): not sent at all
      fail(row, 413);
      return;
    }

    var data = new FormData();
    data.append("file", file, file.name);
    var request = new XMLHttpRequest();
    request.open("POST", "/console/api/transfers");
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.responseType = "json";
    request.upload.onprogress = function (event) {
      if (event.lengthComputable) { progress.value = Math.round(event.loaded * 100 / event.total); }
    };
    request.onload = function () {
      if (request.status !== 202 || !request.response) {
        fail(row, request.status);
        return;
      }
      progress.value = 100;
      item.setAttribute("data-id", request.response.id);
      setState(row, "queued");
      poll(row, request.response.id);
    };
    request.onerror = function () { fail(row, 0); };
    request.send(data);
  }

  function sendAll(files) {
    for (var i = 0; i < files.length; i += 1) { send(files[i]); }
  }

  input.addEventListener("change", function () {
    sendAll(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) {
      event.preventDefault();
      drop.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("over"); });
  });
  // a file dropped beside the drop zone must not make the browser open it in place of the page
  ["dragover", "drop"].forEach(function (name) {
    window.addEventListener(name, function (event) {
      if (!drop.contains(event.target)) { event.preventDefault(); }
    });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files) { sendAll(event.dataTransfer.files); }
  });
}());

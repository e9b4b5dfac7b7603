// The 受け取り page: while a transfer shown is still being processed, its state is asked for
// every two seconds, and the page is read again once it has changed (so downloads appear).
"use strict";
(function () {
  var FINAL = { done: true, failed: true, missing: true, held: true };  // held: until an operator acts
  var waiting = Array.prototype.filter.call(document.querySelectorAll("li.transfer"), function (item) {
    return !FINAL[item.getAttribute("data-state")];
  });
  function check(item) {
    var request = new XMLHttpRequest();
    request.open("GET", "/console/api/transfers/" + encodeURIComponent(item.getAttribute("data-id")));
    request.responseType = "json";
    request.onload = function () {
      if (request.status === 200 && request.response && request.response.state !== item.getAttribute("data-state")) {
        window.location.reload();
        return;
      }
      window.setTimeout(function () { check(item); }, 2000);
    };
    request.send();
  }
  waiting.forEach(function (item) { window.setTimeout(function () { check(item); }, 2000); });
}());

// 质检 (issue 18): a comment's time from the player's position, a comment's time seeks the player.
(function () {
  "use strict";
  var audio = document.getElementById("qa-audio");
  var now = document.getElementById("qa-at-now");
  var at = document.getElementById("qa-at");
  function mmss(s) {
    var t = Math.floor(s);
    return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0");
  }
  if (audio && now && at) {
    now.hidden = false;
    now.addEventListener("click", function () { at.value = mmss(audio.currentTime || 0); });
  }
  document.querySelectorAll("[data-seek]").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!audio) return;
      audio.currentTime = parseFloat(b.getAttribute("data-seek")) || 0;
      audio.play();
    });
  });
})();

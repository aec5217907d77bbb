// Intake form: a live count of the ticked CDC symptoms next to the symptoms list (progressive
// enhancement: the server computes the same summary with "Check the criteria").
(function () {
  "use strict";
  var form = document.querySelector("form[data-intake-form='fatigue']");
  if (!form) { return; }
  var boxes = form.querySelectorAll("input[name='symptoms']");
  if (!boxes.length) { return; }
  var fieldset = boxes[0].closest("fieldset");
  var out = document.createElement("p");
  out.className = "help";
  out.setAttribute("aria-live", "polite");
  fieldset.appendChild(out);
  var template = fieldset.closest("form").getAttribute("data-count-template") || "%(count)s of %(total)s ticked (at least 4 needed)";
  function update() {
    var count = 0;
    boxes.forEach(function (box) { if (box.checked) { count += 1; } });
    out.textContent = template.replace("%(count)s", count).replace("%(total)s", boxes.length);
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();

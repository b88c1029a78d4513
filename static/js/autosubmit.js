// Submit a form marked data-autosubmit as soon as the page loads (progressive
// enhancement: without JavaScript the person presses its button).
(function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
})();

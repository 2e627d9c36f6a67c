//! An HTML page around an SVG picture, with instant tooltips.
//!
//! The SVG's own `<title>` elements already give the browser's native tooltips; the small
//! script below shows the same text at once, next to the pointer, for any element that has
//! a `<title>` (bars, points, wall lines).

use super::esc;

const SCRIPT: &str = r#"
(function () {
  var tip = document.getElementById('tip');
  document.querySelectorAll('svg [data-task], svg [data-tip], svg .wall').forEach(function (el) {
    var t = el.querySelector('title');
    if (!t) { return; }
    var text = t.textContent;
    t.remove(); // the browser's own slow tooltip would show a second copy
    el.addEventListener('mousemove', function (e) {
      tip.textContent = text;
      tip.style.display = 'block';
      tip.style.left = (e.pageX + 14) + 'px';
      tip.style.top = (e.pageY + 14) + 'px';
    });
    el.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
})();
"#;

/// A self-contained HTML page showing `svg` under `title`.
pub(crate) fn page(title: &str, svg: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: DejaVu Sans, Verdana, Arial, sans-serif; margin: 16px; }}
#tip {{ position: absolute; display: none; pointer-events: none; background: #222; color: #fff;
  font-size: 12px; padding: 4px 7px; border-radius: 3px; white-space: nowrap; }}
svg [data-task]:hover, svg [data-tip]:hover {{ stroke: #000; stroke-width: 1.5; }}
</style>
</head>
<body>
{svg}
<div id="tip"></div>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        title = esc(title),
    )
}

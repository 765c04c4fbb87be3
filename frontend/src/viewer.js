// Read-only diagrams: the item page's (finished steps and the current one highlighted) and the designer's
// version comparison (added and changed elements), each marker a CSS class on the element (app.css).
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

async function show(element) {
  const viewer = new NavigatedViewer({ container: element });
  const response = await fetch(element.dataset.xmlUrl, { credentials: "same-origin" });
  await viewer.importXML(await response.text());
  const canvas = viewer.get("canvas");
  canvas.zoom("fit-viewport");
  const registry = viewer.get("elementRegistry");
  const markers = {
    "rf-completed": JSON.parse(element.dataset.completed || "[]"),
    "rf-current": JSON.parse(element.dataset.current || "[]"),
    ...JSON.parse(element.dataset.markers || "{}"),
  };
  Object.entries(markers).forEach(([marker, ids]) =>
    ids.forEach((id) => registry.get(id) && canvas.addMarker(id, marker)),
  );
  element.dataset.ready = "true";
}

document.querySelectorAll("[data-bpmn-viewer]").forEach((element) => {
  show(element).catch((error) => {
    element.textContent = element.dataset.failedText || String(error);
  });
});

// Fits the whole diagram into the part of the canvas no overlay covers: diagram-js's own
// zoom("fit-viewport") puts the leftmost element at the very left, under the palette.
const MARGIN = 24;

// How far, in screen pixels, `overlay` reaches into the canvas from the container's left and bottom edges.
const reach = (container, overlay) => {
  if (!overlay) return { left: 0, bottom: 0 };
  const box = container.getBoundingClientRect();
  const covered = overlay.getBoundingClientRect();
  return { left: covered.right - box.left, bottom: box.bottom - covered.top };
};

export function fitClearOfPalette(canvas) {
  const container = canvas.getContainer();
  const { inner, outer } = canvas.viewbox(); // inner: the diagram's bounds in diagram units
  const left = reach(container, container.querySelector(".djs-palette")).left + MARGIN;
  const bottom = reach(container, container.querySelector(".bjsl-button")).bottom + MARGIN;
  const width = outer.width - left - MARGIN;
  const height = outer.height - bottom - MARGIN;
  const scale = Math.min(1, width / inner.width, height / inner.height);
  canvas.viewbox({
    x: inner.x - left / scale,
    y: inner.y - MARGIN / scale,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

// Rows and columns of the table marked from outside dmn-js (the rules a trial matched, the elements a
// refusal names) by a style sheet of [data-row-id] / [data-col-id] selectors: dmn-js redraws its cells
// on every edit and would drop a class set on them.
const quoted = (id) => `"${CSS.escape(id)}"`;

export class Marks {
  constructor(container) {
    this.container = container;
    this.sheet = document.createElement("style");
    document.head.append(this.sheet);
    this.rules = [];
    this.problems = [];
  }

  matched(ids) {
    this.rules = ids;
    this.draw();
  }

  problem(id) {
    this.problems.push(id);
    this.draw();
  }

  clearProblems() {
    this.problems = [];
    this.draw();
  }

  draw() {
    const scope = `#${CSS.escape(this.container.id)}`;
    const matched = this.rules.map((id) => `${scope} td[data-row-id=${quoted(id)}]`);
    const wrong = this.problems.flatMap((id) => [
      `${scope} [data-element-id=${quoted(id)}]`,
      `${scope} td[data-row-id=${quoted(id)}]`,
      `${scope} th[data-col-id=${quoted(id)}]`,
      `${scope} td[data-col-id=${quoted(id)}]`,
    ]);
    this.sheet.textContent = [
      matched.length ? `${matched.join(",")} { background: #dcfce7 !important; }` : "",
      wrong.length ? `${wrong.join(",")} { box-shadow: inset 0 0 0 2px #b91c1c; }` : "",
    ].join("\n");
  }
}

// The palette, context pad, properties panel and lint overlays in the page's language. bpmn-js speaks
// English; on a Chinese page its texts go through bpmn-js-i18n-zh, corrected and completed by zh.js.
import core from "bpmn-js-i18n-zh/lib/bpmn-js/index.js";
import camunda from "bpmn-js-i18n-zh/lib/camunda-properties-panel/index.js";
import panel from "bpmn-js-i18n-zh/lib/properties-panel/index.js";
import { translateModule as translating } from "../translate.js";
import ours from "./zh.js";

const chinese = { ...core, ...panel, ...camunda, ...ours };

/** A bpmn-js module replacing the default `translate` service for `lang` (the page's <html lang>). */
export function translateModule(lang) {
  return translating(lang.startsWith("zh") ? chinese : {});
}

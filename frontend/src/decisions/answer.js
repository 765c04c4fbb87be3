/** The body of an endpoint's answer: its JSON, or (an HTML error page: a lost session, a too large upload) a
 * problem whose detail is the HTTP status. */
export async function answerOf(response) {
  try {
    return await response.json();
  } catch {
    return { detail: `HTTP ${response.status} ${response.statusText}`.trim() };
  }
}

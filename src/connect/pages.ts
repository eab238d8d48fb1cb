/**
 * The pages a customer sees while connecting: plain HTML, every value escaped, no script and no
 * style of their own (the operators' Content-Security-Policy applies; plugins/security-headers.ts).
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

/** The connection succeeded: the key, shown this once. */
export function connectedPage({ accountId, connectionKey }: { accountId: string; connectionKey: string }): string {
  return page(
    'HubSpot connected',
    `<p>HubSpot portal <strong>${escapeHtml(accountId)}</strong> is connected. Its contacts are being copied now.</p>
<p>Enter this <strong>connection key</strong> in Talkdesk, in the HubSpot contacts integration's <em>Connection key</em> field:</p>
<p><code id="connection-key">${escapeHtml(connectionKey)}</code></p>
<p>It is shown only this once and cannot be looked up again. Keep it like a password. If it is lost, connect again: a new key is issued, and the earlier ones keep working until an operator revokes them.</p>`,
  );
}

/** The connection failed: why, in the customer's terms, and how to start again. */
export function failedPage({ title, reason, connectUrl }: { title: string; reason: string; connectUrl: string }): string {
  return page(
    title,
    `<p>${escapeHtml(reason)}</p>
<p>Nothing was stored. <a href="${escapeHtml(connectUrl)}">Start the connection again</a>.</p>`,
  );
}

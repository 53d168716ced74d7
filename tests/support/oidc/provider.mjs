// A certified OpenID Provider (node's oidc-provider) on 127.0.0.1, for the team-mode tests only.
// Its login page takes any user name and password (consent is given at once); the accounts
// below give each test user a name, an e-mail and groups (which the roles file maps). The page
// is plain HTML with nothing loaded from elsewhere (oidc-provider's own development page fetches
// a web font), so the browser tests can check that nothing leaves 127.0.0.1.
//   node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI ID_TOKEN_TTL_S
import { parse } from "node:querystring";
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, idTokenTtl] = process.argv.slice(2);

const ACCOUNTS = {
  ana: { name: "Ana Analyst", email: "ana@example.com", groups: ["audit-staff"] },
  rex: { name: "Rex Reviewer", email: "rex@example.com", groups: ["audit-staff", "audit-reviewers"] },
  ada: { name: "Ada Admin", email: "ada@example.com", groups: ["auditor-admins"] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  claims: { openid: ["sub"], profile: ["name", "groups"], email: ["email"] },
  conformIdTokenClaims: false, // every claim in the ID token: Streamlit's st.user reads it
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(ACCOUNTS[id] ?? { name: id, groups: [] }) }),
  }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { IdToken: Number(idTokenTtl), AccessToken: 3600, Session: 3600, Grant: 3600, Interaction: 600 },
  features: {
    devInteractions: { enabled: false },
    // Sign-out confirmed at once, as an identity provider that trusts the app's id_token_hint would.
    rpInitiatedLogout: {
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><html><body>${form}<script>
          const f = document.forms[0]; const yes = document.createElement("input");
          yes.type = "hidden"; yes.name = "logout"; yes.value = "yes"; f.appendChild(yes); f.submit();
        </script></body></html>`;
      },
    },
  },
  pkce: { required: () => false },
  cookies: { keys: ["test-only-cookie-key"] },
});

const LOGIN_PAGE = (uid) => `<!doctype html><html><head><title>Sign in</title></head><body>
<form method="post" action="/interaction/${uid}/login">
<label>User <input name="login" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form></body></html>`;

async function consent(ctx, details) {
  const { prompt, params, session } = details;
  const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (match[2] && ctx.method === "POST") {
    const body = await new Promise((resolve) => {
      let data = "";
      ctx.req.on("data", (chunk) => { data += chunk; });
      ctx.req.on("end", () => resolve(parse(data)));
    });
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: String(body.login) } },
      { mergeWithLastSubmission: false });
    ctx.respond = false;
    return;
  }
  if (details.prompt.name === "consent") {
    await consent(ctx, details);
    ctx.respond = false;
    return;
  }
  ctx.type = "html";
  ctx.body = LOGIN_PAGE(details.uid);
});

provider.listen(Number(port), "127.0.0.1", () => console.log(`listening on ${port}`));

// An independent implementation checking the gateway from the outside: the `jose` npm package (panva)
// opens the gateway's envelopes and signs commands for it; the `fhir` npm package validates its FHIR.
// Usage (stdin -> stdout):
//   node jose-tool.mjs genkey ES256|ECDH-ES KID      a private JWK
//   node jose-tool.mjs public                        private JWK in, public JWK out
//   node jose-tool.mjs open CARE_PRIVATE.jwk GATEWAY_PUBLIC.jwk   envelope in, body out
//   node jose-tool.mjs sign CARE_PRIVATE.jwk GATEWAY_ID JTI [LIFETIME_S] [EXP_OFFSET_S]  command JSON in, JWS out
//   node jose-tool.mjs validate-fhir                 a Bundle or Observation in; exit 1 on any error
import * as jose from 'jose';
import fhirpkg from 'fhir';
import { readFileSync } from 'node:fs';

const readStdin = () => readFileSync(0, 'utf8').trim();
const readJwk = (path) => JSON.parse(readFileSync(path, 'utf8'));
const [command, ...args] = process.argv.slice(2);

async function main() {
  switch (command) {
    case 'genkey': {
      const [alg, kid] = args;
      const { privateKey } = await jose.generateKeyPair(alg, { crv: 'P-256', extractable: true });
      const jwk = await jose.exportJWK(privateKey);
      process.stdout.write(JSON.stringify({ ...jwk, kid }) + '\n');
      return 0;
    }
    case 'public': {
      const { d, ...publicJwk } = JSON.parse(readStdin());
      process.stdout.write(JSON.stringify(publicJwk) + '\n');
      return 0;
    }
    case 'open': {
      const careKey = await jose.importJWK(readJwk(args[0]), 'ECDH-ES');
      const gatewayJwk = readJwk(args[1]);
      const gatewayKey = await jose.importJWK(gatewayJwk, 'ES256');
      const { plaintext, protectedHeader: outer } = await jose.compactDecrypt(readStdin(), careKey, {
        keyManagementAlgorithms: ['ECDH-ES'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      const { payload, protectedHeader: inner } = await jose.compactVerify(new TextDecoder().decode(plaintext), gatewayKey, {
        algorithms: ['ES256'],
      });
      if (inner.kid !== gatewayJwk.kid) throw new Error(`inner kid ${inner.kid} is not the gateway's ${gatewayJwk.kid}`);
      process.stderr.write(`outer ${JSON.stringify({ alg: outer.alg, enc: outer.enc, kid: outer.kid, cty: outer.cty })}\n`);
      process.stdout.write(new TextDecoder().decode(payload) + '\n');
      return 0;
    }
    case 'sign': {
      const [keyPath, gateway, jti, lifetime = '300', expOffset = '0'] = args;
      const jwk = readJwk(keyPath);
      const key = await jose.importJWK(jwk, 'ES256');
      const now = Math.floor(Date.now() / 1000);
      const claims = { aud: gateway, iat: now, exp: now + Number(lifetime) + Number(expOffset), jti, command: JSON.parse(readStdin()) };
      const jws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .sign(key);
      process.stdout.write(jws + '\n');
      return 0;
    }
    case 'validate-fhir': {
      const { Fhir } = fhirpkg;
      const result = new Fhir().validate(JSON.parse(readStdin()));
      // Unknown elements come back as warnings; for us they are errors too.
      const problems = result.messages.filter((m) => m.severity === 'error' || m.message === 'Unexpected property');
      for (const m of result.messages) process.stderr.write(`${m.severity} ${m.location}: ${m.message}\n`);
      process.stdout.write(JSON.stringify({ valid: result.valid && problems.length === 0, problems: problems.length }) + '\n');
      return result.valid && problems.length === 0 ? 0 : 1;
    }
    default:
      process.stderr.write('usage: see the head of jose-tool.mjs\n');
      return 64;
  }
}

main().then((code) => process.exit(code), (error) => {
  process.stderr.write(`jose-tool: ${error.code ?? ''} ${error.message}\n`);
  process.exit(1);
});

/** Test-only loader for vectors/xmtp-v2.json at the repository root. */
import { readFileSync } from "node:fs";
import { hexToBytes } from "@noble/hashes/utils.js";

export interface IdentityVector {
  private_key_bundle_hex: string;
  wallet_address: string;
  identity_key: {
    timestamp_ms: string;
    private_key_hex: string;
    public_key_hex: string;
    wallet_signature_recovery: number;
    create_identity_signed_bytes_hex: string;
    create_identity_text: string;
    create_identity_eip191_digest_hex: string;
  };
  pre_key: { timestamp_ms: string; private_key_hex: string; public_key_hex: string };
  public_key_bundle_v1_hex: string;
  signed_public_key_bundle_hex: string;
}

export interface Vectors {
  identities: { alice: IdentityVector; bob: IdentityVector };
  shared_secret_3dh: { secret_hex: string; secret_when_bob_is_sender_hex: string };
  v2_message_example: {
    header_bytes_hex: string;
    encoded_content_hex: string;
    signature_digest_hex: string;
    pre_key_signature: { bytes_hex: string; recovery: number };
    signed_content_hex: string;
    sender_hmac: { period: number; hkdf_info_utf8: string; hmac_key_hex: string; sender_hmac_hex: string };
  };
  auth_token: {
    node_go_fixture: {
      token_base64: string;
      wallet_address: string;
      created_ns: string;
      auth_data_bytes_hex: string;
      validate_at_ns: string;
    };
    alice_token: {
      created_ns: string;
      wallet_address: string;
      auth_data_bytes_hex: string;
      auth_data_signature: { bytes_hex: string; recovery: number };
      token_base64: string;
      authorization_header: string;
    };
  };
  // biome-ignore lint/suspicious/noExplicitAny: the rest of the file is read ad hoc by tests.
  [k: string]: any;
}

export const vectors: Vectors = JSON.parse(
  readFileSync(new URL("../../../vectors/xmtp-v2.json", import.meta.url), "utf8"),
);

export const hex = hexToBytes;

#pragma once
// Which key types can verify which algorithm (RFC 7518 §3.1, RFC 8037 §3.1): shared by JWKS
// loading (skip inconsistent JWKs) and verification (pick keys).

#include "shared/identity/jwt.h"

namespace credbroker::identity {

inline bool type_fits(KeyType type, Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
    case Alg::kPS256:
      return type == KeyType::kRsa;
    case Alg::kES256:
      return type == KeyType::kEcP256;
    case Alg::kES384:
      return type == KeyType::kEcP384;
    case Alg::kEdDSA:
      return type == KeyType::kEd25519;
  }
  return false;
}

}  // namespace credbroker::identity

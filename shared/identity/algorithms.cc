#include "shared/identity/algorithms.h"

namespace credbroker::identity {

std::optional<Alg> parse_alg(std::string_view name) {
  for (Alg alg : kAlgorithms) {
    if (alg_name(alg) == name) return alg;
  }
  if (alg_name(Alg::kHS256) == name) return Alg::kHS256;
  return std::nullopt;
}

std::string_view alg_name(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
      return "RS256";
    case Alg::kRS384:
      return "RS384";
    case Alg::kRS512:
      return "RS512";
    case Alg::kPS256:
      return "PS256";
    case Alg::kES256:
      return "ES256";
    case Alg::kES384:
      return "ES384";
    case Alg::kEdDSA:
      return "EdDSA";
    case Alg::kHS256:
      return "HS256";
  }
  return "?";
}

bool is_hmac(Alg alg) {
  return alg == Alg::kHS256;
}

bool type_fits(KeyType type, Alg alg) {
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
    case Alg::kHS256:
      return type == KeyType::kHmacSecret;
  }
  return false;
}

}  // namespace credbroker::identity

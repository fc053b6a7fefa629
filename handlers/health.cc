// credbroker-health: serves GET /api/v1/healthz (no authentication).
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "health", credbroker::routes::health);
}

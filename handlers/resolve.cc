// credbroker-resolve: serves POST /api/v1/internal/credentials/resolve (the gateway's route).
#include "shared/app/app.h"
#include "shared/routes/routes.h"

int main(int argc, char** argv) {
  return credbroker::app::run(argc, argv, "resolve", credbroker::routes::resolve);
}

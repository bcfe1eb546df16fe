#include "server/server.h"

int main(int argc, char** argv) { return waggle::server::RunCli(argc, argv); }

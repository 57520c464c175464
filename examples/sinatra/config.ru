# Rack entry point (run.sh serves it with rackup's WEBrick handler).
require_relative "app"
run BooksApp

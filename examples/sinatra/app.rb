# A Sinatra app for lambda-adapter: GET / (text), GET /books/:id?format=... (JSON),
# POST /books (JSON body, 201; 400 on bad JSON), and a JSON 404. run.sh serves it with WEBrick
# on 127.0.0.1:$PORT (default 8080).
require "json"
require "sinatra/base"

class BooksApp < Sinatra::Base
  BOOKS = { 1 => { id: 1, title: "The Rust Programming Language" }, 2 => { id: 2, title: "Working Effectively with Legacy Code" } }.freeze

  configure do
    set :show_exceptions, false
  end

  get "/" do
    content_type "text/plain"
    "Hello from Sinatra on AWS Lambda!\n"
  end

  get "/books/:id" do
    book = BOOKS[params[:id].to_i]
    halt 404, { "Content-Type" => "application/json" }, { error: "no book #{params[:id]}" }.to_json unless book
    content_type :json
    book.merge(format: params.fetch("format", "paperback")).to_json
  end

  post "/books" do
    content_type :json
    begin
      book = JSON.parse(request.body.read)
    rescue JSON::ParserError => e
      halt 400, { error: "bad JSON: #{e.message}" }.to_json
    end
    halt 400, { error: "expected an object with a title" }.to_json unless book.is_a?(Hash) && book["title"].is_a?(String)
    status 201
    { id: BOOKS.size + 1, title: book["title"] }.to_json
  end

  not_found do
    content_type :json
    { error: "no route for #{request.request_method} #{request.path_info}" }.to_json
  end
end

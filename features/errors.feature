Feature: Error responses
  Errors come back as JSON: {"error", "message"} and, for validation errors,
  "details" naming each field ("Your First API Call", error handling). Every
  JSON body is valid JSON, and nothing a write accepts can break a later read.

  @must @ERR-0
  Scenario: The three documented errors share one shape
    Given the admin user is logged in
    And the limited user is logged in
    When someone lists accounts without a token
    Then the response is a "Unauthorized" error with status 401
    When the limited user creates an account with a new name
    Then the response is a "Forbidden" error with status 403
    When the admin user creates an account from the body {"is_default": false}
    Then the response is a "ValidationError" error with status 422
    And the error details name "name"

  @must @ERR-2
  Scenario Outline: A body that is not a JSON object is a client error, never a crash
    Given the admin user is logged in
    When they send POST "<path>" with the raw body <body>
    Then the response is a client error with a JSON error body

    Examples:
      | path                    | body           |
      | /authentication/login   | not json at all |
      | /authentication/login   | [1, 2, 3]      |
      | /authentication/login   | "a string"     |
      | /authentication/refresh | {"refresh_token": |
      | /authentication/refresh | null           |
      | /accounts               | {name: Staging} |
      | /accounts               | ["Staging"]    |

  @must @ERR-2
  Scenario: A create sent as plain text is a client error, never a crash
    Given the admin user is logged in
    When they send POST "/accounts" with a plain text body
    Then the response is a client error with a JSON error body

  # ERR-1 judges the body of an error the target chooses to send, and never asks for a status:
  # a 422 for the plain-text body (ERR-0 then judges it) or no size limit at all is right. The
  # large body goes to the refresh endpoint, where a target without a limit stores nothing.
  @should @ERR-1
  Scenario Outline: An error the target sends has the profile's shape: <request>
    Given the admin user is logged in
    When they send <request>
    Then an error in that answer has the profile's shape and name for its status

    Examples:
      | request                                             |
      | GET "/no-such-resource"                             |
      | DELETE "/authentication/login"                      |
      | POST "/authentication/refresh" with a body of 8 MiB |
      | POST "/accounts" with a plain text body             |

  @must @ERR-4
  Scenario Outline: A lone surrogate escape in <field> is answered, never a crash
    When someone sends POST "<path>" with a lone surrogate escape in "<field>"
    Then the response is a success or a client error with a JSON error body, never a server error

    Examples:
      | path                    | field         |
      | /authentication/login   | password      |
      | /authentication/login   | email         |
      | /authentication/refresh | refresh_token |

  @must @ERR-4 @ERR-5
  Scenario: Metadata nested just under 1,000 levels deep is refused or reads back as valid JSON
    Given the admin user is logged in
    When they create one account for each depth of metadata nesting from 950 up to 1000 levels, reading their accounts after each
    Then every one of those answers is a success or a client error with a JSON error body, never a server error
    And every page of accounts still reads as valid JSON for every principal of their organization

  @must @ERR-4 @ERR-5
  Scenario Outline: Whatever a create accepts still reads back as valid JSON: <payload>
    Given the admin user is logged in
    When they create an account with hostile but valid input: <payload>
    Then the response is a success or a client error with a JSON error body, never a server error
    And every page of accounts still reads as valid JSON for every principal of their organization

    Examples:
      | payload                                     |
      | a number too large for a double in metadata |
      | a 400-digit integer in metadata             |
      | a lone surrogate escape in the name         |
      | a lone surrogate escape in a metadata key   |
      | a name of 10,000 characters                 |
      | a name in unusual Unicode                   |
